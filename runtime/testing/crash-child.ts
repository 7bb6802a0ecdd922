// The child process of everyCrashPoint({ process: true }): launches a Skein on the parent's
// database, starts the workflow, and SIGKILLs its own process at the crash point, so the crash
// takes the whole process (its pools, its LISTEN connection, its writer) as a real one would.
// The parent then recovers the workflow (runtime/testing/crash-points.ts).
import { loadWorkflows } from '../../common/loader.ts';
import { Skein } from '../skein.ts';
import { testAccessOf, type ProcessSetup } from '../test-access.ts';
import { clock, skippingTime } from './clock.ts';
import type { CrashPoint } from './crash-points.ts';

/** What the parent sends, once (IPC, advanced serialization: the input is structured-cloned). */
export interface CrashOrder extends ProcessSetup {
  executorId: string;
  name: string;
  input: unknown;
  workflowId: string;
  point: CrashPoint;
}

process.once('message', (order: CrashOrder) => {
  run(order).then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`skein crash child: ${(err as Error)?.stack ?? err}\n`);
      process.exit(1);
    },
  );
});

async function run(o: CrashOrder): Promise<void> {
  const { workflows } = await loadWorkflows(o.workflowsUrl);
  const wf = workflows.get(o.name);
  if (!wf) throw new Error(`workflow '${o.name}' is not exported by ${o.workflowsUrl}`);
  // as the parent's Skein runs it: its queues, its datasources, its time
  const time = o.testClock ? clock({ start: new Date(Date.now() + o.shiftMs) }) : undefined;
  const skein = await Skein.launch({
    workflows: o.workflowsUrl,
    databaseUrl: o.databaseUrl,
    schema: o.schema,
    appVersion: o.appVersion,
    executorId: o.executorId,
    queues: o.queues,
    datasources: Object.fromEntries(Object.entries(o.datasources).map(([name, d]) => [name, { url: d.url ?? o.databaseUrl, poolSize: d.poolSize }])),
    ...(time ? { clock: time } : {}),
    threads: 1,
    recover: false,
    takeover: false,
  });
  const die = (): boolean => process.kill(process.pid, 'SIGKILL');
  testAccessOf(skein, 'crash child').watch(o.workflowId, {
    began: () => {},
    ran: (stepId) => o.point.where === 'mid-step' && stepId === o.point.stepId && die(),
    recorded: (stepId) => o.point.where === 'after-checkpoint' && stepId === o.point.stepId && die(),
  });
  const handle = await skein.start(wf, o.input, { id: o.workflowId });
  // the point was never reached: the run ends here, uncrashed
  const done = handle.result().catch(() => {});
  await (time ? skippingTime(time, done) : done);
  await skein.shutdown();
}
