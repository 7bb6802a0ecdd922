// The DBOS Transact TypeScript SDK's side of the cancellation benchmark (bench/cancel.ts), one
// pass, in a process of its own (DBOS is a process-wide singleton), at DBOS's defaults.
//  steps: DBOS.cancelWorkflow on a workflow in its loop of 5 ms steps, measured as skein's is;
//  sleep: one sample of a workflow in DBOS.sleep(3_000), to show whether the cancel interrupts it.
// DBOS runs workflows on this (the main) thread: the marks go into a module-level map.
import { DBOS } from '@dbos-inc/dbos-sdk';
import { MAX_STEPS, Marks, READY_AFTER, cancelArgs, markingStop, sampled, sendResults, thrownName, wait } from '../cancel-workflows.ts';

const { databaseUrl, warmup, samples } = cancelArgs();
DBOS.setConfig({ name: 'skein-bench-cancel', systemDatabaseUrl: databaseUrl, logLevel: 'error' });

const DBOS_SLEEP_MS = 3_000;
const marks = new Marks();
/** when each sleeping workflow entered DBOS.sleep */
const sleptAt = new Map<string, number>();

const stepLoop = DBOS.registerWorkflow(
  async (n: number) => {
    const id = DBOS.workflowID!;
    return markingStop(id, (m) => marks.mark(m), async () => {
      for (let i = 0; i < n; i++) {
        await DBOS.runStep(wait, { name: 'wait' });
        if (i + 1 === READY_AFTER) marks.mark({ id, kind: 'ready' });
      }
      return n;
    });
  },
  { name: 'cancelStepLoop' },
);

const sleeper = DBOS.registerWorkflow(
  async (ms: number) => {
    const id = DBOS.workflowID!;
    return markingStop(id, (m) => marks.mark(m), async () => {
      for (let i = 0; i < READY_AFTER; i++) await DBOS.runStep(wait, { name: 'wait' });
      sleptAt.set(id, Date.now());
      marks.mark({ id, kind: 'ready' });
      await DBOS.sleep(ms);
      return ms;
    });
  },
  { name: 'cancelSleep' },
);

await DBOS.launch();

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One sample: start, wait for its steps (and `settle` ms more), cancel, time the stop. */
async function sample(
  start: () => Promise<{ workflowID: string; getResult(): Promise<unknown> }>,
  settleMs = 0,
): Promise<{ stop: number; call: number; id: string; at: number; error: string; result: string }> {
  const h = await start();
  const id = h.workflowID;
  await marks.ready(id);
  if (settleMs) await pause(settleMs);
  const t0 = Date.now();
  await DBOS.cancelWorkflow(id);
  const call = Date.now() - t0;
  const { at, error } = await marks.stopped(id, 60_000);
  // the cancel clears the workflow's owner: a step in flight when it lands fails to record its
  // result (DBOSWorkflowConflictError); one starting after it finds CANCELLED (DBOSWorkflowCancelledError)
  if (!/Cancel|Conflict/.test(error)) throw new Error(`${id}: its code ended with ${error}, not a cancellation`);
  const result = await h.getResult().then(
    (v) => `returned ${v}`,
    (err) => thrownName(err),
  );
  if (!/Cancel/.test(result)) throw new Error(`${id}: getResult() ${result}, not a cancellation`);
  marks.forget(id);
  return { stop: at - t0, call, id, at, error, result };
}

const steps = await sampled(warmup, samples, () => sample(() => DBOS.startWorkflow(stepLoop)(MAX_STEPS)));

// one sample: a workflow 100 ms into DBOS.sleep(3_000), cancelled
const s = await sample(() => DBOS.startWorkflow(sleeper)(DBOS_SLEEP_MS), 100);
/** from entering DBOS.sleep to the code stopping */
const intoSleep = s.at - sleptAt.get(s.id)!;

await DBOS.shutdown();
sendResults({
  stop: { steps: steps.stop, sleep: [s.stop] },
  call: { steps: steps.call, sleep: [s.call] },
  errors: { steps: steps.errors, sleep: { [s.error]: 1 } },
  notes: [
    `DBOS sleep: a workflow cancelled 100 ms into DBOS.sleep(${DBOS_SLEEP_MS}) stopped ${s.stop} ms after the cancel ` +
      `(${intoSleep} ms after it began to sleep), its code ending with ${s.error}; getResult(): ${s.result}`,
  ],
});
