// A/B helper: workloads 1-3 of skein only, quick sizes, N repetitions.
import { availableParallelism } from 'node:os';
import { Skein } from '../runtime/index.ts';
import { withBenchPostgres } from './server.ts';
import { noopSteps } from './workflows.ts';
await withBenchPostgres(async (server) => {
  const skein = await Skein.launch({ workflows: new URL('./workflows.ts', import.meta.url), databaseUrl: server.url, threads: availableParallelism(), workflowsPerThread: 1024, queues: [{ name: 'bench', workerConcurrency: 64 }] });
  await Promise.all(Array.from({ length: 20 }, (_, i) => skein.run(noopSteps, i)));
  const r: number[][] = [[], [], []];
  for (let rep = 0; rep < 4; rep++) {
    let t0 = performance.now();
    let hs = await Promise.all(Array.from({ length: 500 }, (_, i) => skein.start(noopSteps, i)));
    await Promise.all(hs.map((h) => h.result())); r[0]!.push(500 / ((performance.now() - t0) / 1000));
    t0 = performance.now(); hs = [];
    for (let i = 0; i < 300; i++) hs.push(await skein.start(noopSteps, i));
    await Promise.all(hs.map((h) => h.result())); r[1]!.push(300 / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    hs = await Promise.all(Array.from({ length: 500 }, (_, i) => skein.start(noopSteps, i, { queue: 'bench' })));
    await Promise.all(hs.map((h) => h.result())); r[2]!.push(500 / ((performance.now() - t0) / 1000));
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0);
  console.log(`concurrent ${r[0]!.map((x) => x.toFixed(0))} (median ${med(r[0]!)}) | sequential ${r[1]!.map((x) => x.toFixed(0))} (median ${med(r[1]!)}) | queued ${r[2]!.map((x) => x.toFixed(0))} (median ${med(r[2]!)})`);
  await skein.shutdown();
});
