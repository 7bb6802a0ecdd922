// Queue dispatch latency (enqueue -> running, one at a time on an idle queue) and throughput
// (N three-step workflows enqueued at once, workerConcurrency 64).
// Run: npx tsx bench/queue.ts [N]
import { Skein } from '../runtime/index.ts';
import { withBenchPostgres } from './server.ts';
import { noopSteps, stamp, wallClock } from './workflows.ts';

const N = Number(process.argv[2] ?? 2000);
const LATENCY_ROUNDS = 200;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

console.log(`queue: ${LATENCY_ROUNDS} idle enqueues, then ${N} workflows x 3 steps, workerConcurrency 64, 2 threads, default durability`);
await withBenchPostgres(async (server) => {
  const skein = await Skein.launch({
    workflows: new URL('./workflows.ts', import.meta.url),
    databaseUrl: server.url,
    threads: 2,
    workflowsPerThread: 32,
    queues: [{ name: 'bench', workerConcurrency: 64 }],
  });
  await skein.run(stamp, null, { queue: 'bench' }); // warm
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_ROUNDS; i++) {
    const enqueuedAt = wallClock();
    const startedAt = await skein.run(stamp, null, { queue: 'bench' });
    latencies.push(startedAt - enqueuedAt);
  }
  console.log(
    `  enqueue -> running: median ${quantile(latencies, 0.5).toFixed(2)} ms, p99 ${quantile(latencies, 0.99).toFixed(2)} ms`,
  );
  const t0 = performance.now();
  const handles = await Promise.all(Array.from({ length: N }, (_, i) => skein.start(noopSteps, i, { queue: 'bench' })));
  await Promise.all(handles.map((h) => h.result()));
  const seconds = (performance.now() - t0) / 1000;
  console.log(`  throughput: ${(N / seconds).toFixed(0)} workflows/s (${seconds.toFixed(2)} s)`);
  await skein.shutdown();
});
