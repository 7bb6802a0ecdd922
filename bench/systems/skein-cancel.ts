// skein's side of the cancellation benchmark (bench/cancel.ts), one pass, in a process of its own.
// Scenarios, each `warmup` unmeasured samples then `samples` measured, one after another:
//  steps:  skein.cancelWorkflow on a workflow in its loop of 5 ms steps (the running process
//          tells its own dispatcher directly);
//  client: the same cancel made from a Client in this process (the executor learns it by NOTIFY);
//  sleep:  skein.cancelWorkflow on a workflow in ctx.sleep(60_000), launched with parkAfterMs
//          600_000 so the sleeping workflow stays on its thread.
// A sample: start, wait for READY_AFTER steps, t0, cancel, then the moment the workflow's code
// stopped (its finally, on the worker thread, posts Date.now() on a BroadcastChannel) - t0.
import { BroadcastChannel } from 'node:worker_threads';
import { Client, Skein, WorkflowCancelledError } from '../../runtime/index.ts';
import {
  CANCEL_CHANNEL,
  MAX_STEPS,
  Marks,
  cancelArgs,
  cancelSleep,
  cancelStepLoop,
  sampled,
  sendResults,
  type Mark,
} from '../cancel-workflows.ts';

const { databaseUrl, warmup, samples } = cancelArgs();
const workflows = new URL('../cancel-workflows.ts', import.meta.url);
const SLEEP_MS = 60_000;

const marks = new Marks();
const channel = new BroadcastChannel(CANCEL_CHANNEL);
channel.onmessage = (e) => marks.mark((e as { data: Mark }).data);

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One sample: `start`, wait for its steps (and `settled`), cancel with `cancel`, time the stop. */
async function sample(
  start: () => Promise<{ id: string; result(): Promise<unknown> }>,
  cancel: (id: string) => Promise<void>,
  settled: () => Promise<void> = async () => {},
): Promise<{ stop: number; call: number; error: string }> {
  const h = await start();
  await marks.ready(h.id);
  await settled();
  const t0 = Date.now();
  await cancel(h.id);
  const call = Date.now() - t0;
  const { at, error } = await marks.stopped(h.id);
  if (error !== 'WorkflowCancelledError') throw new Error(`${h.id}: its code ended with ${error}, not WorkflowCancelledError`);
  const outcome = await h.result().then(
    (v) => new Error(`${h.id} returned ${v} though cancelled`),
    (err) => err,
  );
  if (!(outcome instanceof WorkflowCancelledError)) throw new Error(`${h.id}: result() gave ${outcome}, not WorkflowCancelledError`);
  marks.forget(h.id);
  return { stop: at - t0, call, error };
}

const stop: Record<string, number[]> = {};
const call: Record<string, number[]> = {};
const errors: Record<string, Record<string, number>> = {};
const record = (name: string, r: { stop: number[]; call: number[]; errors: Record<string, number> }) => {
  stop[name] = r.stop;
  call[name] = r.call;
  errors[name] = r.errors;
};

// at skein's defaults
let skein = await Skein.launch({ workflows, databaseUrl });
const client = await Client.connect({ databaseUrl });
const startLoop = () => skein.start(cancelStepLoop, MAX_STEPS);
record('steps', await sampled(warmup, samples, () => sample(startLoop, (id) => skein.cancelWorkflow(id))));
record('client', await sampled(warmup, samples, () => sample(startLoop, (id) => client.cancelWorkflow(id))));
await client.close();
await skein.shutdown();

// the sleep stays on its thread
skein = await Skein.launch({ workflows, databaseUrl, parkAfterMs: 600_000 });
/** the sleep has reached main (its timer is set), so the workflow is in it */
const idleTimers = skein.waiterStats().timers;
const sleeping = async () => {
  const end = Date.now() + 30_000;
  while (skein.waiterStats().timers <= idleTimers) {
    if (Date.now() > end) throw new Error(`timed out waiting for the sleep: ${JSON.stringify(skein.waiterStats())}`);
    await pause(1);
  }
};
record(
  'sleep',
  await sampled(warmup, samples, () =>
    sample(() => skein.start(cancelSleep, SLEEP_MS), (id) => skein.cancelWorkflow(id), sleeping),
  ),
);
await skein.shutdown();
channel.close();

sendResults({ stop, call, errors, notes: [] });
