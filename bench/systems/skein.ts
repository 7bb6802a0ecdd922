// skein's side of the benchmark, in a process of its own.
import { availableParallelism } from 'node:os';
import { Skein } from '../../runtime/index.ts';
import { cpuSteps, noopSteps, pingPong, stepTimes } from '../workflows.ts';
import { childArgs, runChild } from './child.ts';

const { databaseUrl, mode } = childArgs();
const skein = await Skein.launch({
  workflows: new URL('../workflows.ts', import.meta.url),
  databaseUrl,
  threads: availableParallelism(),
  // DBOS runs every started workflow at once on its event loop; let skein's threads take as many
  workflowsPerThread: 1024,
  queues: [{ name: 'bench', workerConcurrency: 64 }],
});
// Workload 9 (a burst, as a host service meets one) runs at skein's defaults: the event-loop
// delay it measures is what a service embedding skein as shipped would see.
const atDefaults = await Skein.launch({ workflows: new URL('../workflows.ts', import.meta.url), databaseUrl });
let statsAtStart = skein.writerStats();
let started = false;

await runChild(
  {
    startNoop: (i) => {
      if (i >= 0 && !started) {
        started = true;
        statsAtStart = skein.writerStats(); // the measured workload 1 begins: count its writes only
      }
      return skein.start(noopSteps, i);
    },
    startBurst: (i) => atDefaults.start(noopSteps, i),
    enqueueNoop: (i) => skein.start(noopSteps, i, { queue: 'bench' }),
    startCpu: (ms) => skein.start(cpuSteps, ms),
    startPingPong: (n) => skein.start(pingPong, n),
    send: (id, message, topic) => skein.send(id, message, topic),
    getEvent: (id, key) => skein.getEvent<number>(id, key, { timeoutMs: 60_000 }),
    runStepTimes: (n) => skein.run(stepTimes, n),
    extras: () => {
      const s = skein.writerStats();
      const flushes = s.flushes - statsAtStart.flushes;
      const units = s.units - statsAtStart.units;
      return {
        rowsPerFlush: (s.rows - statsAtStart.rows) / flushes,
        transactionsPerWorkflow: (s.transactions - statsAtStart.transactions) / (units / 5),
      };
    },
  },
  mode,
  async () => {
    await atDefaults.shutdown();
    await skein.shutdown();
  },
);
