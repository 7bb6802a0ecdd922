// The DBOS Transact TypeScript SDK's side of workload 8 (bench/sleepers.ts), in a process of its
// own, with its defaults: the same workflow as bench/workflows.ts sleepThenStep.
import { DBOS } from '@dbos-inc/dbos-sdk';
import { SLEEPERS } from '../sleepers.ts';
import { wallClock } from '../workloads.ts';
import { childArgs, runSleeperChild } from './child.ts';

const { databaseUrl, mode, n } = childArgs();
DBOS.setConfig({ name: 'skein-bench', systemDatabaseUrl: databaseUrl, logLevel: 'error' });

const sleepThenStep = DBOS.registerWorkflow(
  async (ms: number) => {
    await DBOS.sleep(ms);
    return DBOS.runStep(async () => wallClock(), { name: 'after' });
  },
  { name: 'sleepThenStep' },
);

await DBOS.launch();

await runSleeperChild(
  {
    startSleeper: async (ms) => {
      const h = await DBOS.startWorkflow(sleepThenStep)(ms);
      return { result: () => h.getResult() };
    },
  },
  n || SLEEPERS[mode],
  () => DBOS.shutdown(),
);
