// skein's side of the benchmark, in a process of its own: at its defaults (the headline column),
// or with the tuned column's settings (bench/settings.ts TUNED) and nothing else changed.
import { Skein } from '../../runtime/index.ts';
import { skeinSettings } from '../settings.ts';
import { cpuSteps, noopSteps, pingPong, recvThenStep, stepTimes } from '../workflows.ts';
import { childArgs, runChild } from './child.ts';

const { databaseUrl, mode, variant } = childArgs();
const skein = await Skein.launch({
  workflows: new URL('../workflows.ts', import.meta.url),
  databaseUrl,
  queues: [{ name: 'bench', workerConcurrency: 64 }],
  ...skeinSettings(variant),
});
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
    enqueueNoop: (i) => skein.start(noopSteps, i, { queue: 'bench' }),
    startCpu: (ms) => skein.start(cpuSteps, ms),
    startPingPong: (n) => skein.start(pingPong, n),
    send: (id, message, topic) => skein.send(id, message, topic),
    getEvent: (id, key) => skein.getEvent<number>(id, key, { timeoutMs: 60_000 }),
    runStepTimes: (n) => skein.run(stepTimes, n),
    startRecvThenStep: () => skein.start(recvThenStep, undefined),
    parked: () => skein.waiterStats().parked,
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
  () => skein.shutdown(),
);
