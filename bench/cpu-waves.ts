// Workload 4 alone at several workflowsPerThread: 100 workflows of 3 steps x 20 ms of CPU, 3
// rounds each after a warm-up of 20. With slots for more than half of them but not all, the
// ones left over are admitted together to whichever thread freed first, and the other thread
// idles through the tail (bench/PROFILES.md). Run: npx tsx bench/cpu-waves.ts [W ...]
// (default 8 16 32 50 1024).
import { Skein } from '../runtime/index.ts';
import { withBenchPostgres } from './server.ts';
import { cpuSteps } from './workflows.ts';

const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [8, 16, 32, 50, 1024];
const N = 100;
const CPU_MS = 20;

await withBenchPostgres(async (server) => {
  console.log(`cpu-waves: ${N} workflows of 3 steps x ${CPU_MS} ms CPU, 3 rounds per workflowsPerThread`);
  for (const perThread of sizes) {
    // an executor of its own per size: one launch's recovery never takes another's work
    const skein = await Skein.launch({
      workflows: new URL('./workflows.ts', import.meta.url), databaseUrl: server.url, workflowsPerThread: perThread, executorId: `cpu-waves-${perThread}`,
    });
    const round = async (n: number) => {
      const handles = await Promise.all(Array.from({ length: n }, () => skein.start(cpuSteps, CPU_MS)));
      await Promise.all(handles.map((h) => h.result()));
    };
    await round(20);
    const rates: string[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      await round(N);
      rates.push((N / ((performance.now() - t0) / 1000)).toFixed(1));
    }
    console.log(`  workflowsPerThread ${perThread}: ${rates.join(', ')} workflows/s`);
    await skein.shutdown();
  }
});
