// `npm run demo`: a batch of CPU-heavy workflows across the worker threads, on the embedded
// Postgres (data in .skein/), while the main thread's event loop is measured.
import { SingleBar, Presets } from 'cli-progress';
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Skein } from '../runtime/index.ts';
import { render } from './workflows.ts';

const WORKFLOWS = Number(process.env.DEMO_WORKFLOWS ?? 200);
const ROUNDS = Number(process.env.DEMO_ROUNDS ?? 20_000);
const threads = availableParallelism();

console.log(
  `skein demo: ${WORKFLOWS} workflows of 3 CPU-heavy steps (${ROUNDS} sha256 rounds each) ` +
    `on ${threads} worker threads`,
);
const launchedAt = performance.now();
const skein = await Skein.launch({
  workflows: new URL('./workflows.ts', import.meta.url),
  threads,
  workflowsPerThread: 4,
});
console.log(
  `launched in ${Math.round(performance.now() - launchedAt)} ms on ${
    process.env.SKEIN_DATABASE_URL || process.env.DATABASE_URL ? 'the configured Postgres' : 'the embedded Postgres'
  }`,
);

const bar = new SingleBar(
  { format: '  {bar} {value}/{total} workflows | {rate}/s', hideCursor: true },
  Presets.shades_classic,
);
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();
const started = performance.now();
bar.start(WORKFLOWS, 0, { rate: '0' });
const perThread = new Map<number, number>();
let done = 0;
const results = await Promise.all(
  Array.from({ length: WORKFLOWS }, async (_, id) => {
    const handle = await skein.start(render, { id, rounds: ROUNDS });
    const result = await handle.result();
    perThread.set(result.threadId, (perThread.get(result.threadId) ?? 0) + 1);
    done++;
    bar.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(0) });
    return result;
  }),
);
const seconds = (performance.now() - started) / 1000;
loop.disable();
bar.stop();

const ms = (ns: number) => (ns / 1e6).toFixed(1);
console.log(`\nwhere they ran:`);
for (const [thread, n] of [...perThread].sort((a, b) => a[0] - b[0])) {
  console.log(`  worker thread ${thread}: ${n} workflows`);
}
console.log(`throughput: ${(results.length / seconds).toFixed(1)} workflows/s (${seconds.toFixed(2)} s)`);
console.log(
  `main thread event-loop delay: p50 ${ms(loop.percentile(50))} ms, p99 ${ms(loop.percentile(99))} ms, ` +
    `max ${ms(loop.max)} ms`,
);
const stats = skein.writerStats();
console.log(
  `checkpoints: ${stats.rows} rows in ${stats.transactions} transactions ` +
    `(${(stats.rows / stats.flushes).toFixed(1)} rows per flush)`,
);
const sample = await skein.getWorkflowSteps((await skein.listWorkflows({ limit: 1, desc: true }))[0]!.id);
console.log(`steps of the last workflow: ${sample.map((s) => `${s.stepId}:${s.name}`).join(' -> ')}`);
await skein.shutdown();
// the embedded database keeps them (data in .skein/); the CLI reads it from this folder
console.log(`see them again: npx skein workflow list --limit 5   (or: npx skein --help)`);
