// What a retention sweep costs the service it runs in: N finished workflows of 3 steps each,
// filled directly by SQL, deleted by garbageCollect while a Skein keeps running small
// workflows. Prints the deletion rate, the main thread's event-loop delay during the sweep and
// the small workflows' latency beside a baseline without a sweep. Embedded Postgres at default
// durability.
// Run: npx tsx bench/retention.ts [N]   (default 100000)
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pg from 'pg';
import { silentLogger } from '../common/logger.ts';
import { Skein } from '../runtime/index.ts';
import { RETENTION_BATCH } from '../runtime/retention.ts';
import { withBenchPostgres } from './server.ts';
import { noopSteps } from './workflows.ts';
import { quantile } from './workloads.ts';

const N = Number(process.argv[2] ?? 100_000);
if (!Number.isSafeInteger(N) || N < 1) throw new Error(`usage: tsx bench/retention.ts [N], got ${process.argv[2]}`);
const THREADS = 2;
const IN_FLIGHT = 16;
const BASELINE_MS = 3_000;
const FILL_CHUNK = 20_000;
const workflows = new URL('./workflows.ts', import.meta.url);
console.log(
  `retention: ${N} finished workflows x 3 steps (plus 1 event, 1 message each) filled by SQL, then garbageCollect ` +
    `({ completedAfterMs: 60000 }) in batches of ${RETENTION_BATCH}, while a Skein (threads ${THREADS}) keeps ${IN_FLIGHT} ` +
    `noopSteps workflows in flight; baseline ${BASELINE_MS} ms of that load alone first; ${availableParallelism()} cores, ` +
    `Node ${process.version}, default durability`,
);

/** N finished rows an hour old, each with 3 steps, an event and a message, 100-byte payloads. */
async function fill(db: pg.Client): Promise<void> {
  for (let from = 1; from <= N; from += FILL_CHUNK) {
    const to = Math.min(N, from + FILL_CHUNK - 1);
    const ids = `FROM generate_series($1::int, $2::int) i`;
    await db.query(
      `INSERT INTO skein.workflow_status (id, name, status, executor_id, app_version, input, output, started_at, completed_at)
       SELECT 'old-' || i, 'noopSteps', 'SUCCESS', 'filler', 'v', $3, $3, now() - interval '2 hours',
         now() - interval '1 hour' - i * interval '1 millisecond' ${ids}`,
      [from, to, Buffer.alloc(100)],
    );
    await db.query(`INSERT INTO skein.steps (workflow_id, step_id, name, output) SELECT 'old-' || i, s, 'step', $3 ${ids}, generate_series(0, 2) s`, [
      from,
      to,
      Buffer.alloc(100),
    ]);
    await db.query(`INSERT INTO skein.events (workflow_id, key, value) SELECT 'old-' || i, 'k', $3 ${ids}`, [from, to, Buffer.alloc(100)]);
    await db.query(`INSERT INTO skein.messages (destination_id, topic, message) SELECT 'old-' || i, '', $3 ${ids}`, [from, to, Buffer.alloc(100)]);
  }
  // what autovacuum would have done by the time rows are an hour old
  await db.query('VACUUM ANALYZE');
}

/** Keeps IN_FLIGHT small workflows running until stop(); latencies of those that ended. */
function load(skein: Skein) {
  let stopped = false;
  const latencies: number[] = [];
  const lane = async () => {
    for (let i = 0; !stopped; i++) {
      const t0 = performance.now();
      await skein.run(noopSteps, i);
      latencies.push(performance.now() - t0);
    }
  };
  const lanes = Array.from({ length: IN_FLIGHT }, lane);
  return {
    /** the latencies since the last take */
    take: () => latencies.splice(0),
    stop: async () => {
      stopped = true;
      await Promise.all(lanes);
    },
  };
}

/** Runs `during` with the event-loop delay and the load's latencies measured over it. */
async function measured<T>(during: () => Promise<T>, running: ReturnType<typeof load>) {
  const eld = monitorEventLoopDelay({ resolution: 10 });
  running.take();
  eld.enable();
  const t0 = performance.now();
  const value = await during();
  const ms = performance.now() - t0;
  eld.disable();
  const lat = running.take();
  return {
    value,
    ms,
    eld: `p99 ${(eld.percentile(99) / 1e6).toFixed(1)} ms, max ${(eld.max / 1e6).toFixed(1)} ms`,
    load: `${((lat.length / ms) * 1000).toFixed(0)} workflows/s, latency p50 ${quantile(lat, 0.5).toFixed(1)} ms, p99 ${quantile(lat, 0.99).toFixed(1)} ms`,
  };
}

await withBenchPostgres(async (server) => {
  const skein = await Skein.launch({ workflows, databaseUrl: server.url, threads: THREADS, logger: silentLogger });
  const db = new pg.Client({ connectionString: server.url });
  await db.connect();
  let t0 = performance.now();
  await fill(db);
  console.log(`  filled ${N} workflows (${N * 6} rows) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const running = load(skein);
  await new Promise((r) => setTimeout(r, 1_000)); // warm-up: threads and prepared statements
  const base = await measured(() => new Promise((r) => setTimeout(r, BASELINE_MS)), running);
  console.log(`  baseline (load alone, ${BASELINE_MS} ms): event-loop delay ${base.eld}; load ${base.load}`);
  const gc = await measured(() => skein.garbageCollect({ completedAfterMs: 60_000 }), running);
  await running.stop();
  const { deleted } = gc.value;
  console.log(
    `  garbageCollect: deleted ${deleted} workflows in ${(gc.ms / 1000).toFixed(2)} s = ` +
      `${((deleted / gc.ms) * 1000).toFixed(0)} workflows/s (${((deleted * 6) / gc.ms * 1000).toFixed(0)} rows/s with steps, event, message)`,
  );
  console.log(`  during the sweep: event-loop delay ${gc.eld}; load ${gc.load}`);
  const left = await db.query(`SELECT count(*)::int AS n FROM skein.workflow_status WHERE id LIKE 'old-%'`);
  if (deleted !== N || left.rows[0].n !== 0) throw new Error(`expected ${N} deleted and none left, got ${deleted} and ${left.rows[0].n}`);
  await db.end();
  await skein.shutdown();
});
