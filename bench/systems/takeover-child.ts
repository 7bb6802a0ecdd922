// One process of the takeover benchmark (bench/takeover.ts): a skein or DBOS executor serving
// the queue 'work', at the system's defaults otherwise. It says 'ready' over IPC and runs until
// killed. DBOS takes its executor ID from DBOS__VMID (set by the bench, distinct per process,
// as DBOS advises for more than one process).
// usage: tsx takeover-child.ts <skein|dbos> <databaseUrl>
import { DBOS } from '@dbos-inc/dbos-sdk';
import { Skein } from '../../runtime/index.ts';
import { QUEUE, recordRun, STEPS } from '../takeover-workflows.ts';

const [system, databaseUrl] = process.argv.slice(2) as ['skein' | 'dbos', string];
process.env.BENCH_DATABASE_URL = databaseUrl;

if (system === 'skein') {
  const skein = await Skein.launch({
    workflows: new URL('../takeover-workflows.ts', import.meta.url),
    databaseUrl,
    queues: [QUEUE],
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  process.send!({ executorId: skein.executorId });
} else {
  DBOS.registerWorkflow(
    async (i: number): Promise<number> => {
      for (let s = 0; s < STEPS; s++) await DBOS.runStep(() => recordRun(DBOS.workflowID!, s), { name: `s${s}` });
      return i;
    },
    { name: 'benchFive' },
  );
  DBOS.setConfig({ name: 'skein-bench-takeover', systemDatabaseUrl: databaseUrl, logLevel: 'error' });
  await DBOS.launch();
  await DBOS.registerQueue(QUEUE.name, { workerConcurrency: QUEUE.workerConcurrency });
  process.send!({ executorId: process.env.DBOS__VMID });
}
setInterval(() => {}, 1 << 30);
