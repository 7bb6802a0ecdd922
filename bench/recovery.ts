// Row 11 of `npm run bench`: recovery of many PENDING workflows after the process is SIGKILLed.
// One pass, per variant, on a fresh database (bench/systems/recovery-child.ts runs each process):
//  1. a victim process starts N workflows that each record a step, then sleep durably until a
//     common gate time (bench/workflows.ts sleepToGate), and says when every sleep is durable;
//  2. it is SIGKILLed before the gate; the bench checks none of them woke yet;
//  3. once the gate has passed, a new process is launched under the same executor ID and app
//     version, so it recovers them at launch with every one of them due at once;
//  4. measured from that launch (the fork): the launch returning, each workflow's step after the
//     sleep starting (the systems' own step records, stamped with the clock of the process that
//     ran the step), and the last workflow finishing (polled).
// What a system does between 3 and 4 is its recovery: skein re-arms the parked workflows from
// their rows, finds them due and runs them through its slots; DBOS re-enqueues its executor's
// PENDING workflows on its internal queue, whose runner dispatches them.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { systemOf, type Variant } from './settings.ts';
import type { Metrics } from './workloads.ts';
import { quantile } from './workloads.ts';

/** the executor ID of both processes of a pass (skein's executorId, DBOS's DBOS__VMID) */
export const RECOVERY_EXECUTOR = 'bench-recovery';

/**
 * n: workflows left PENDING. gateMs: from the victim's fork to the gate; it must cover the
 * victim's launch, its n starts and every sleep becoming durable (a pass that misses it fails
 * saying so), and the bench idles for the rest of it. Measured on the 2-core machine under a
 * load average of 7 to 18: 10,000 asleep after 42 s (skein defaults) and 61 s (DBOS); 2,000
 * after 9 s and 12 s; 1,000 after 1.5 s and 5.6 s.
 */
export const RECOVERY = {
  full: { n: 10_000, gateMs: 120_000 },
  quick: { n: 1_000, gateMs: 15_000 },
} as const;

export type RecoveryMessage =
  | { type: 'waiting'; startMs: number; waitingMs: number }
  | { type: 'launched'; at: number };

/** Where each system records its steps and statuses, for the figures read after a pass. */
const SQL = {
  skein: {
    resumed: `SELECT (extract(epoch FROM started_at) * 1000)::float8 AS at FROM skein.steps WHERE name = 'resumed'`,
    finished: `SELECT count(*)::int AS n FROM skein.workflow_status WHERE status = 'SUCCESS'`,
  },
  dbos: {
    resumed: `SELECT started_at_epoch_ms::float8 AS at FROM dbos.operation_outputs WHERE function_name = 'resumed'`,
    finished: `SELECT count(*)::int AS n FROM dbos.workflow_status WHERE status = 'SUCCESS'`,
  },
} as const;

/** How long a recovery may take before the pass is called failed. */
const RECOVERY_TIMEOUT_MS = 15 * 60_000;

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawn(args: string[]): { child: ChildProcess; stderr: () => string } {
  const child = fork(new URL('./systems/recovery-child.ts', import.meta.url), args, {
    execArgv: ['--import=tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  return { child, stderr: () => stderr };
}

/** The next IPC message of `child`, or an error with its stderr if it exits first. */
function next<T extends RecoveryMessage['type']>(
  p: { child: ChildProcess; stderr: () => string },
  type: T,
): Promise<Extract<RecoveryMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: RecoveryMessage) => {
      if (m.type !== type) return;
      p.child.off('exit', onExit);
      p.child.off('message', onMessage);
      resolve(m as Extract<RecoveryMessage, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`recovery-child exited with ${code ?? signal} before '${type}':\n${p.stderr()}`));
    p.child.on('message', onMessage);
    p.child.once('exit', onExit);
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** One pass of the recovery row for `variant`, on the fresh database `url`. */
export async function runRecovery(variant: Variant, url: string, size: { n: number; gateMs: number }): Promise<Metrics> {
  const system = systemOf(variant);
  const sql = SQL[system];
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const gateAt = Date.now() + size.gateMs;
  const victim = spawn(['victim', variant, url, String(size.n), String(gateAt)]);
  let recoverer: ReturnType<typeof spawn> | undefined;
  try {
    const waiting = await next(victim, 'waiting');
    await kill(victim.child);
    const killedAt = Date.now();
    if (killedAt >= gateAt) {
      throw new Error(
        `recovery (${variant}): the ${size.n} workflows were all asleep only ${waiting.waitingMs} ms after launch, ` +
          `past the gate (${size.gateMs} ms after the fork): raise RECOVERY.gateMs in bench/recovery.ts`,
      );
    }
    const early = (await db.query(sql.resumed)).rowCount;
    if (early) throw new Error(`recovery (${variant}): ${early} workflows ran their step after the sleep before the kill`);
    // a little past the gate, so that each workflow's recorded wake-up is in the past at relaunch
    await pause(gateAt + 500 - Date.now());

    const spawnedAt = Date.now();
    recoverer = spawn(['recover', variant, url]);
    const launched = await next(recoverer, 'launched');
    let finishedAt: number | undefined;
    while (finishedAt === undefined) {
      if (Date.now() - spawnedAt > RECOVERY_TIMEOUT_MS) {
        throw new Error(`recovery (${variant}): not all ${size.n} finished ${RECOVERY_TIMEOUT_MS / 1000} s after the relaunch:\n${recoverer.stderr()}`);
      }
      if (recoverer.child.exitCode !== null) throw new Error(`recovery (${variant}): the relaunched process exited:\n${recoverer.stderr()}`);
      if ((await db.query<{ n: number }>(sql.finished)).rows[0]!.n >= size.n) finishedAt = Date.now();
      else await pause(50);
    }
    const resumed = (await db.query<{ at: number }>(sql.resumed)).rows.map((r) => r.at - spawnedAt);
    if (resumed.length !== size.n) throw new Error(`recovery (${variant}): ${resumed.length} step records after the sleep, expected ${size.n}`);
    return {
      n: size.n,
      startSeconds: waiting.startMs / 1000,
      asleepSeconds: waiting.waitingMs / 1000,
      killToRelaunchSeconds: (spawnedAt - killedAt) / 1000,
      launchSeconds: (launched.at - spawnedAt) / 1000,
      firstRunningSeconds: Math.min(...resumed) / 1000,
      medianRunningSeconds: quantile(resumed, 0.5) / 1000,
      allRunningSeconds: Math.max(...resumed) / 1000,
      allFinishedSeconds: (finishedAt - spawnedAt) / 1000,
    };
  } finally {
    await kill(victim.child);
    if (recoverer) await kill(recoverer.child);
    await db.end();
  }
}
