// Takeover after a process dies: skein side by side with the DBOS Transact TypeScript SDK.
// Three processes serve one queue (bench/systems/takeover-child.ts); 300 five-step workflows
// are enqueued; once a quarter of the steps ran, one process is SIGKILLed. Measured: the time
// from the kill to each of its unfinished workflows running a step again (the last one, and the
// median), read from the steps' own records (bench/takeover-workflows.ts).
//   skein: nothing else happens; a live process takes the dead one's work over by itself.
//   DBOS: without Conductor (its hosted service) nothing takes over a dead executor's work; a
//   supervisor (systemd, Kubernetes) relaunching the process at once with the same executor ID
//   is the quickest self-hosted path, so the bench plays that supervisor.
// Method: one embedded Postgres at default durability, a fresh database per system and pass;
// 3 alternating passes (skein, DBOS, ...).
// Run: npx tsx bench/takeover.ts [--quick]   (npm run bench:takeover; writes bench/TAKEOVER.md,
// or with --quick bench/quick/TAKEOVER.md, git-ignored)
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { DBOSClient } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { Client } from '../runtime/index.ts';
import { machineFacts, writeReport, SYSTEMS, dbosVersion, skeinVersion, type System } from './report.ts';
import { withBenchPostgres } from './server.ts';
import { QUEUE, STEP_MS, STEPS } from './takeover-workflows.ts';
import { quantile } from './workloads.ts';

const quick = process.argv.includes('--quick');
const PASSES = quick ? 1 : 3;
const WORKFLOWS = 300;
const PROCESSES = 3;
const systems = SYSTEMS;
const NAME: Record<System, string> = { skein: 'skein', dbos: 'DBOS (relaunched at once)' };
const STATUS_TABLE: Record<System, string> = { skein: 'skein.workflow_status', dbos: 'dbos.workflow_status' };
const ID_COLUMN: Record<System, string> = { skein: 'id', dbos: 'workflow_uuid' };

interface Pass {
  /** kill to none of them PENDING under the dead executor (back in the queue, or claimed), ms */
  releasedMs: number;
  /** kill to each orphan's first step after it, ms */
  resumedMs: number[];
  orphans: number;
  totalMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawnChild(system: System, url: string, vmid: string): ChildProcess {
  const script = new URL('./systems/takeover-child.ts', import.meta.url);
  return fork(script, [system, url], {
    execArgv: ['--import=tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, DBOS__VMID: vmid },
  });
}

async function ready(child: ChildProcess): Promise<string> {
  const [msg] = (await once(child, 'message')) as [{ executorId: string }];
  return msg.executorId;
}

async function until(db: pg.Client, sql: string, params: unknown[], ok: (n: number) => boolean): Promise<void> {
  for (;;) {
    const { rows } = await db.query<{ n: number }>(sql, params);
    if (ok(rows[0]!.n)) return;
    await sleep(10);
  }
}

async function onePass(system: System, url: string): Promise<Pass> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query('CREATE TABLE bench_runs (workflow_id text NOT NULL, step int NOT NULL, ran_at timestamptz NOT NULL DEFAULT clock_timestamp())');
  // the first launch makes the system's tables; the others launch together after it
  const children: ChildProcess[] = [spawnChild(system, url, `${system}-0`)];
  const ids = [await ready(children[0]!)];
  for (let k = 1; k < PROCESSES; k++) children.push(spawnChild(system, url, `${system}-${k}`));
  ids.push(...(await Promise.all(children.slice(1).map(ready))));
  try {
    const started = Date.now();
    if (system === 'skein') {
      const client = await Client.connect({ databaseUrl: url });
      for (let i = 0; i < WORKFLOWS; i++) await client.enqueue({ workflow: 'benchFive', queue: QUEUE.name }, i);
      await client.close();
    } else {
      const client = await DBOSClient.create({ systemDatabaseUrl: url });
      for (let i = 0; i < WORKFLOWS; i++) await client.enqueue({ workflowName: 'benchFive', queueName: QUEUE.name }, i);
      await client.destroy();
    }
    await until(db, 'SELECT count(*)::int AS n FROM bench_runs', [], (n) => n >= (WORKFLOWS * STEPS) / 4);
    const { rows: orphans } = await db.query<{ id: string }>(
      `SELECT ${ID_COLUMN[system]} AS id FROM ${STATUS_TABLE[system]} WHERE executor_id = $1 AND status = 'PENDING'`,
      [ids[0]],
    );
    const victim = children[0]!;
    const exited = once(victim, 'exit');
    victim.kill('SIGKILL');
    const killedAt = Date.now();
    await exited;
    if (system === 'dbos') children[0] = spawnChild(system, url, `${system}-0`); // the supervisor
    const pendingThere = `SELECT count(*)::int AS n FROM ${STATUS_TABLE[system]} WHERE executor_id = $1 AND status = 'PENDING'`;
    await until(db, pendingThere, [ids[0]], (n) => n === 0);
    const releasedMs = Date.now() - killedAt;
    await until(db, `SELECT count(*)::int AS n FROM ${STATUS_TABLE[system]} WHERE status = 'SUCCESS'`, [], (n) => n === WORKFLOWS);
    const totalMs = Date.now() - started;
    const { rows } = await db.query<{ first: Date }>(
      `SELECT min(ran_at) AS first FROM bench_runs WHERE workflow_id = ANY($1::text[]) AND ran_at > $2 GROUP BY workflow_id`,
      [orphans.map((o) => o.id), new Date(killedAt)],
    );
    return { releasedMs, resumedMs: rows.map((r) => r.first.getTime() - killedAt), orphans: orphans.length, totalMs };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await db.end();
  }
}

const parameters =
  `${PROCESSES} processes serving one queue (workerConcurrency ${QUEUE.workerConcurrency}), ${WORKFLOWS} workflows of ${STEPS} steps ` +
  `(each a ${STEP_MS} ms wait and an INSERT), one process SIGKILLed once a quarter of the steps ran; ${PASSES} alternating passes, ` +
  `a fresh database each; skein ${skeinVersion} at its defaults (takeover on, lease 10 s) vs DBOS SDK ${dbosVersion} at its defaults, ` +
  `relaunched with the same DBOS__VMID as soon as it died; ${availableParallelism()} cores, Node ${process.version}`;
console.log(parameters);
const ms = (x: number) => x.toFixed(0);

await withBenchPostgres(async (server) => {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const machine = await machineFacts(admin);
  const results: Record<System, Pass[]> = { skein: [], dbos: [] };
  for (let pass = 1; pass <= PASSES; pass++) {
    for (const system of systems) {
      const name = `bench_take_${system}_${pass}`;
      await admin.query(`CREATE DATABASE ${name}`);
      // not dropped after: a client a system leaves connected would see its session ended (the
      // whole server goes at the end)
      const r = await onePass(system, server.url.replace(/\/postgres$/, `/${name}`));
      results[system].push(r);
      console.log(
        `pass ${pass}, ${system}: ${r.orphans} orphans, released after ${ms(r.releasedMs)} ms, last running again after ${ms(Math.max(...r.resumedMs))} ms, ` +
          `median ${ms(quantile(r.resumedMs, 0.5))} ms; all ${WORKFLOWS} done in ${ms(r.totalMs)} ms`,
      );
    }
  }
  await admin.end();

  const heads = Array.from({ length: PASSES }, (_, i) => `pass ${i + 1}`);
  const lines = [
    '## Takeover after a process dies: skein vs DBOS Transact TypeScript',
    '',
    `Generated by \`npx tsx bench/takeover.ts${quick ? ' --quick' : ''}\` (\`npm run bench:takeover\`) on ` +
      `${new Date().toISOString().slice(0, 10)}. Nothing here is a constant: rerun the command to reproduce.`,
    '',
    `- Machine: ${machine}.`,
    `- Parameters: ${parameters}.`,
    "- Measured: from the SIGKILL to each of the dead process's unfinished workflows running a step again (the database's clock " +
      'on the step records), ms. skein: another live process takes the work over by itself (the ring of registry locks, README ' +
      '"Running many processes"). DBOS: without Conductor, nothing takes over; a supervisor relaunching the process at once is ' +
      'its quickest self-hosted path, so its figure includes booting a process. "Released": the dead process\'s PENDING workflows are all ' +
      'back in their queue or claimed; "running again" then also waits for a free slot of the queue (workerConcurrency), as the live processes ' +
      'are busy with their own share.',
    '',
    `| measure (ms) | system | ${heads.join(' | ')} | median of passes | spread of passes |`,
    `|---|---|${heads.map(() => '---:').join('|')}|---:|---:|`,
  ];
  for (const [label, f] of [
    ["orphans released (none PENDING under the dead executor)", (p: Pass) => p.releasedMs],
    ['last orphan running again', (p: Pass) => Math.max(...p.resumedMs)],
    ['median orphan running again', (p: Pass) => quantile(p.resumedMs, 0.5)],
    [`all ${WORKFLOWS} done`, (p: Pass) => p.totalMs],
  ] as const) {
    for (const system of systems) {
      const xs = results[system].map(f);
      lines.push(`| ${label} | ${NAME[system]} | ${xs.map(ms).join(' | ')} | **${ms(quantile(xs, 0.5))}** | ${ms(Math.min(...xs))}-${ms(Math.max(...xs))} |`);
    }
  }
  lines.push('', `Orphans per pass: ${systems.map((s) => `${NAME[s]} ${results[s].map((p) => p.orphans).join(', ')}`).join('; ')}.`, '');
  console.log(`wrote ${writeReport('TAKEOVER.md', quick, lines.join('\n'))}`);
});
