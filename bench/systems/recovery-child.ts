// One process of the recovery row (bench/recovery.ts), skein or DBOS, under the executor ID
// RECOVERY_EXECUTOR in both roles, so the second process recovers the first one's work at launch
// (skein: README "Running many processes", IDs; DBOS: DBOS.launch recovers the PENDING
// workflows of its executor ID and app version). Both compute the same app version in both roles:
// the same workflow code is registered.
//   victim <n> <gateAt>: starts n sleepToGate workflows at once, says 'waiting' over IPC once
//     every one's sleep is durable, and runs until SIGKILLed.
//   recover: launches, says 'launched', and runs until killed.
// usage: tsx recovery-child.ts <victim|recover> <skein|dbos|tuned> <databaseUrl> [n gateAt]
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { Skein } from '../../runtime/index.ts';
import { RECOVERY_EXECUTOR, type RecoveryMessage } from '../recovery.ts';
import { isVariant, skeinSettings, systemOf } from '../settings.ts';
import { sleepToGate } from '../workflows.ts';
import { wallClock } from '../workloads.ts';

const [role, variant, databaseUrl, nArg, gateArg] = process.argv.slice(2);
const n = Number(nArg);
const gateAt = Number(gateArg);
if ((role !== 'victim' && role !== 'recover') || !isVariant(variant) || !databaseUrl || (role === 'victim' && !(n > 0 && gateAt > 0))) {
  console.error('usage: recovery-child.ts <victim|recover> <skein|dbos|tuned> <databaseUrl> [n gateAt]');
  process.exit(2);
}
const tell = (m: RecoveryMessage) => process.send!(m);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (systemOf(variant) === 'skein') {
  const skein = await Skein.launch({
    workflows: new URL('../workflows.ts', import.meta.url),
    databaseUrl,
    executorId: RECOVERY_EXECUTOR,
    ...skeinSettings(variant),
  });
  if (role === 'recover') tell({ type: 'launched', at: Date.now() });
  else {
    const t0 = Date.now();
    await Promise.all(Array.from({ length: n }, () => skein.start(sleepToGate, gateAt)));
    const started = Date.now();
    // parked: the wake-up time is on the workflow's row, and nothing of it is on a thread
    while (skein.waiterStats().parked < n) await pause(20);
    tell({ type: 'waiting', startMs: started - t0, waitingMs: Date.now() - t0 });
  }
} else {
  process.env.DBOS__VMID = RECOVERY_EXECUTOR;
  const dbosSleepToGate = DBOS.registerWorkflow(
    async (gate: number) => {
      const ms = await DBOS.runStep(async () => Math.max(0, gate - Date.now()), { name: 'plan' });
      await DBOS.sleep(ms);
      return DBOS.runStep(async () => wallClock(), { name: 'resumed' });
    },
    { name: 'sleepToGate' },
  );
  DBOS.setConfig({ name: 'skein-bench-recovery', systemDatabaseUrl: databaseUrl, logLevel: 'error' });
  await DBOS.launch();
  if (role === 'recover') tell({ type: 'launched', at: Date.now() });
  else {
    const t0 = Date.now();
    await Promise.all(Array.from({ length: n }, () => DBOS.startWorkflow(dbosSleepToGate)(gateAt)));
    const started = Date.now();
    // DBOS.sleep records its end time (an operation named 'DBOS.sleep') before it waits
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    const count = async () =>
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM dbos.operation_outputs WHERE function_name = 'DBOS.sleep'`)).rows[0]!.n;
    while ((await count()) < n) await pause(50);
    await db.end();
    tell({ type: 'waiting', startMs: started - t0, waitingMs: Date.now() - t0 });
  }
}
setInterval(() => {}, 1 << 30); // until killed
