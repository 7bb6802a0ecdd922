// The DBOS Transact TypeScript SDK's side of the benchmark, in a process of its own (DBOS is a
// process-wide singleton). The same workflows as bench/workflows.ts, in DBOS's API, with its
// defaults (its queue polls every second unless minPollingIntervalMs is lowered).
import { DBOS } from '@dbos-inc/dbos-sdk';
import { burn, wallClock } from '../workloads.ts';
import { childArgs, runChild } from './child.ts';

const { databaseUrl, mode } = childArgs();
DBOS.setConfig({ name: 'skein-bench', systemDatabaseUrl: databaseUrl, logLevel: 'error' });

const noopSteps = DBOS.registerWorkflow(
  async (n: number) => {
    const a = await DBOS.runStep(async () => n + 1, { name: 'one' });
    const b = await DBOS.runStep(async () => a + 1, { name: 'two' });
    return DBOS.runStep(async () => b + 1, { name: 'three' });
  },
  { name: 'noopSteps' },
);

const cpuSteps = DBOS.registerWorkflow(
  async (ms: number) => {
    for (let i = 0; i < 3; i++) await DBOS.runStep(async () => burn(ms) > 0, { name: `burn-${i}` });
    return true;
  },
  { name: 'cpuSteps' },
);

const pingPong = DBOS.registerWorkflow(
  async (n: number) => {
    const recvLatencies: number[] = [];
    for (let i = 0; i < n; i++) {
      const sentAt = await DBOS.recv<number>('ping', 60);
      recvLatencies.push(wallClock() - sentAt!);
      await DBOS.setEvent(`ack${i}`, wallClock());
    }
    return recvLatencies;
  },
  { name: 'pingPong' },
);

const stepTimes = DBOS.registerWorkflow(
  async (n: number) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) times.push(await DBOS.runStep(async () => wallClock(), { name: `t${i}` }));
    return times;
  },
  { name: 'stepTimes' },
);

const recvThenStep = DBOS.registerWorkflow(
  async () => {
    await DBOS.recv<number>('t', 600);
    return DBOS.runStep(async () => wallClock(), { name: 'after' });
  },
  { name: 'recvThenStep' },
);

await DBOS.launch();
await DBOS.registerQueue('bench', { workerConcurrency: 64 });

const handle = <T>(h: { getResult(): Promise<T>; workflowID: string }) => ({ id: h.workflowID, result: () => h.getResult() });

await runChild(
  {
    startNoop: async (i) => handle(await DBOS.startWorkflow(noopSteps)(i)),
    enqueueNoop: async (i) => handle(await DBOS.startWorkflow(noopSteps, { queueName: 'bench' })(i)),
    startCpu: async (ms) => handle(await DBOS.startWorkflow(cpuSteps)(ms)),
    startPingPong: async (n) => handle(await DBOS.startWorkflow(pingPong)(n)),
    send: (id, message, topic) => DBOS.send(id, message, topic),
    getEvent: (id, key) => DBOS.getEvent<number>(id, key, 60),
    runStepTimes: async (n) => (await DBOS.startWorkflow(stepTimes)(n)).getResult(),
    startRecvThenStep: async () => handle(await DBOS.startWorkflow(recvThenStep)()),
  },
  mode,
  () => DBOS.shutdown(),
);
