// How well the group-commit writer batches: N three-step workflows started at once, then the
// writer's rows per flush and transactions per workflow. Run: npx tsx bench/writer-stats.ts [N]
import { Skein } from '../runtime/index.ts';
import { withBenchPostgres } from './server.ts';
import { noopSteps } from './workflows.ts';

const N = Number(process.argv[2] ?? 1000);
const threads = Number(process.env.THREADS ?? 2);
const perThread = Number(process.env.PER_THREAD ?? 64);
console.log(`writer-stats: ${N} workflows x 3 no-op steps, ${threads} threads x ${perThread} workflows, default durability`);

await withBenchPostgres(async (server) => {
  const skein = await Skein.launch({
    workflows: new URL('./workflows.ts', import.meta.url),
    databaseUrl: server.url,
    threads,
    workflowsPerThread: perThread,
  });
  await skein.run(noopSteps, 0); // warm the threads and prepared statements
  const before = skein.writerStats();
  const t0 = performance.now();
  const handles = await Promise.all(Array.from({ length: N }, (_, i) => skein.start(noopSteps, i)));
  await Promise.all(handles.map((h) => h.result()));
  const seconds = (performance.now() - t0) / 1000;
  const s = skein.writerStats();
  const flushes = s.flushes - before.flushes;
  const rows = s.rows - before.rows;
  const tx = s.transactions - before.transactions;
  console.log(`  ${(N / seconds).toFixed(0)} workflows/s (${seconds.toFixed(2)} s)`);
  console.log(`  rows written: ${rows} (${rows / N} per workflow: insert, 3 steps, finish and its NOTIFY)`);
  console.log(`  flushes: ${flushes}, average ${(rows / flushes).toFixed(1)} rows per flush`);
  console.log(`  transactions: ${tx}, ${(tx / N).toFixed(3)} per workflow`);
  await skein.shutdown();
});
