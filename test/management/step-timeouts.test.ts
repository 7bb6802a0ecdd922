// StepOptions.timeoutMs: per attempt; the attempt's signal aborts and it fails with
// StepTimeoutError, retried per its policy. An attempt that blocks its thread cannot see its
// own timer: main ends the thread stepKillGraceMs after the deadline.
import test from 'ava';
import * as wf from '../fixtures/cancel.ts';
import { count } from '../support/counters.ts';
import { launch, unique, waitFor, within } from '../support/helpers.ts';

const workflows = new URL('../fixtures/cancel.ts', import.meta.url);

test('an async step that heeds its signal: timed-out attempts are retried, the third returns', async (t) => {
  const skein = await launch(t, { workflows });
  const key = unique('k');
  const out = await within(skein.run(wf.slowStep, { key, cpu: false, hangs: 2, retries: 3, timeoutMs: 200 }), 30_000, 'the workflow');
  t.is(out, 'attempt 3');
  t.is(await count(`${key}:attempt`), 3);
  // a timed-out attempt fails at once; what its function does on the abort runs on beside it
  await waitFor(async () => (await count(`${key}:aborted`)) === 2, 10_000, 'each timed-out attempt to see its signal abort');
});

test('an async step whose every attempt times out records StepTimeoutError', async (t) => {
  const skein = await launch(t, { workflows });
  const key = unique('k');
  const h = await skein.start(wf.slowStep, { key, cpu: false, hangs: 99, retries: 1, timeoutMs: 150 });
  t.is(await within(h.result(), 30_000, 'the workflow'), 'failed: StepTimeoutError');
  t.is(await count(`${key}:attempt`), 2);
  const [step] = await skein.getWorkflowSteps(h.id);
  t.is((step!.error as Error).name, 'StepTimeoutError');
  t.regex((step!.error as Error).message, /timeoutMs \(150 ms\)/);
});

test('a CPU-bound attempt that ignores its signal has its thread ended; the retry runs; the neighbour recovers', async (t) => {
  const skein = await launch(t, { workflows, threads: 1, parkAfterMs: 600_000, stepKillGraceMs: 300 });
  const key = unique('k');
  const near = await skein.start(wf.neighbour, `${key}:n`);
  // waiting in recv (on main), so it runs no code on the thread the slow step will block
  await waitFor(() => skein.waiterStats().waiting === 1, 30_000, 'the neighbour to wait');
  // (the timeout leaves the attempt's first await, a counter's round trip, room under load)
  const h = await skein.start(wf.slowStep, { key, cpu: true, hangs: 1, retries: 2, timeoutMs: 1500 });
  t.is(await within(h.result(), 30_000, 'the workflow'), 'attempt 2', 'the attempt after the ended one ran, numbered 2');
  t.is(await count(`${key}:attempt`), 2);
  await skein.send(near.id, 'go', 'go');
  t.is(await within(near.result(), 30_000, "the neighbour's result"), 'go');
  t.is(await count(`${key}:n:one`), 1, "the neighbour's completed step did not run again");
  t.is((await h.status())?.attempts, 1, 'ending the thread for a timeout is not a recovery attempt');
});

test("a workflow that left a blocked thread for another does not make that other thread count as dead when the blocked one ends", async (t) => {
  // 2 threads x 1 slot. The neighbour waits on thread Y; a blocking step then fills Y, so when
  // its message comes it leaves Y (its old run there cannot even hear the park) and runs on the
  // thread that replaced X. When Y is ended for its own overstayed step, that old run ends
  // with it: blamed on the thread the neighbour ran on since, it marked that live thread dead,
  // and half the pool took no more work.
  const skein = await launch(t, { workflows, threads: 2, workflowsPerThread: 1, parkAfterMs: 600_000, stepKillGraceMs: 300 });
  const key = unique('k');
  const s1 = await skein.start(wf.slowStep, { key: `${key}:s1`, cpu: true, hangs: 1, retries: 1, timeoutMs: 1000 });
  await waitFor(async () => (await count(`${key}:s1:attempt`)) === 1, 30_000, 'the first blocking step to start');
  const near = await skein.start(wf.neighbour, `${key}:n`);
  await waitFor(() => skein.waiterStats().waiting === 1, 30_000, 'the neighbour to wait');
  const s2 = await skein.start(wf.slowStep, { key: `${key}:s2`, cpu: true, hangs: 1, retries: 1, timeoutMs: 5000 });
  await waitFor(async () => (await count(`${key}:s2:attempt`)) === 1, 30_000, 'the second blocking step to start');
  await skein.send(near.id, 'go', 'go');
  t.is(await within(near.result(), 30_000, "the neighbour's result"), 'go');
  t.is(await within(s1.result(), 30_000, 'the first'), 'attempt 2');
  t.is(await within(s2.result(), 30_000, 'the second'), 'attempt 2');
  const both = await Promise.all([0, 1].map(() => skein.run(wf.together, { key: `${key}:t`, n: 2 })));
  t.deepEqual(both, [true, true], 'both threads take work again');
});

test('a CPU-bound last attempt: main records StepTimeoutError and the workflow sees it', async (t) => {
  const skein = await launch(t, { workflows, threads: 1, stepKillGraceMs: 200 });
  const key = unique('k');
  const h = await skein.start(wf.slowStep, { key, cpu: true, hangs: 99, retries: 0, timeoutMs: 1500 });
  t.is(await within(h.result(), 30_000, 'the workflow'), 'failed: StepTimeoutError');
  t.is(await count(`${key}:attempt`), 1, 'not run again after its thread was ended');
  const [step] = await skein.getWorkflowSteps(h.id);
  t.regex((step!.error as Error).message, /the thread was ended/);
});

test('step timeoutMs is checked', async (t) => {
  const skein = await launch(t, { workflows });
  // the fixture returns the name of what its step threw
  t.is(await skein.run(wf.slowStep, { key: unique('k'), cpu: false, hangs: 0, retries: 0, timeoutMs: 0 }), 'failed: ConfigError');
  t.is(await skein.run(wf.slowStep, { key: unique('k'), cpu: false, hangs: 0, retries: 0, timeoutMs: 2 ** 31 }), 'failed: ConfigError');
});

test("regression: a step whose timer another workflow's blocking step froze is not charged the timeout", async (t) => {
  // Both steps run code on the one thread; the bystander's watch expires first, but the hog
  // froze its timer. Nobody is charged a timeout: the thread ends as a crash, each runs again,
  // and the hog, suspected, runs alone where its own watch catches it.
  const skein = await launch(t, { workflows, threads: 1, stepKillGraceMs: 500 });
  const kb = unique('b');
  const kh = unique('h');
  const b = await skein.start(wf.bystander, kb);
  await waitFor(async () => (await count(`${kb}:io`)) === 1, 30_000, 'the bystander step');
  const h = await skein.start(wf.hog, kh);
  t.is(await within(b.result(), 60_000, "the bystander's result"), 'ok');
  t.is(await within(h.result(), 60_000, "the hog's result"), 2);
  t.is((await b.status())?.status, 'SUCCESS');
});
