// skein/testing's replayCheck: a recorded workflow replayed against the code of a second
// version (test/fixtures/kit-v2.ts), as a CI job would check a deploy. The replay runs nothing
// and writes nothing; the first divergence is named with its step.
import test from 'ava';
import { ConfigError, NonDeterminismError, type Skein } from '../../runtime/index.ts';
import { replayCheck, ReplayDivergence } from '../../runtime/testing/index.ts';
import { kitLonger, kitOutput, kitRecvWins, kitRenamed, kitShorter, kitSleeper, kitSleepWins, kitThrowsOdd } from '../fixtures/kit.ts';
import { launch, sql } from '../support/helpers.ts';

const v1 = new URL('../fixtures/kit.ts', import.meta.url);
const v2 = new URL('../fixtures/kit-v2.ts', import.meta.url);

async function recorded(t: Parameters<typeof launch>[0], run: (skein: Skein) => Promise<string[]>): Promise<{ ids: string[]; v2: Skein }> {
  const old = await launch(t, { workflows: v1 });
  const ids = await run(old);
  return { ids, v2: await launch(t, { workflows: v2 }) };
}

test('the same code replays cleanly, running and writing nothing', async (t) => {
  const skein = await launch(t, { workflows: v1 });
  const h = await skein.start(kitShorter, undefined);
  t.is(await h.result(), 3);
  const before = await sql(`SELECT updated_at, attempts FROM skein.workflow_status WHERE id = $1`, [h.id]);
  const report = await replayCheck(skein, h.id);
  t.deepEqual(report, { workflowId: h.id, name: 'kitShorter', status: 'SUCCESS', steps: 2, complete: true });
  t.deepEqual(await sql(`SELECT updated_at, attempts FROM skein.workflow_status WHERE id = $1`, [h.id]), before);
  t.is((await skein.getWorkflowSteps(h.id)).length, 2);
});

test('a renamed step is found, with its step id and both names', async (t) => {
  const { ids: [id], v2: skein } = await recorded(t, async (s) => [(await s.start(kitRenamed, undefined).then((h) => h.result().then(() => h.id)))]);
  const err = await t.throwsAsync(replayCheck(skein, id!), { instanceOf: ReplayDivergence });
  t.true(err instanceof NonDeterminismError);
  t.is(err!.stepId, 1);
  t.is(err!.workflowId, id);
  t.regex(err!.message, /step 1: recorded as 'b' but the code now calls 'bee'/);
});

test('a step the finished run never made, a return before the history ends, another result', async (t) => {
  const { ids: [longer, shorter, output], v2: skein } = await recorded(t, async (s) => {
    const hs = [await s.start(kitLonger, undefined), await s.start(kitShorter, undefined), await s.start(kitOutput, undefined)];
    await Promise.all(hs.map((h) => h.result()));
    return hs.map((h) => h.id);
  });
  const a = await t.throwsAsync(replayCheck(skein, longer!), { instanceOf: ReplayDivergence });
  t.is(a!.stepId, 1);
  t.regex(a!.message, /step 1: the code now calls 'b', but the recorded run returned after step 0/);
  const b = await t.throwsAsync(replayCheck(skein, shorter!), { instanceOf: ReplayDivergence });
  t.is(b!.stepId, 1);
  t.regex(b!.message, /step 1: the code returns here, but the history goes on with 'b'/);
  const c = await t.throwsAsync(replayCheck(skein, output!), { instanceOf: ReplayDivergence });
  t.regex(c!.message, /returns another value than the recorded run did/);
});

test('an unfinished workflow replays up to where its history stops', async (t) => {
  const skein = await launch(t, { workflows: v1 });
  const h = await skein.start(kitSleeper, undefined);
  // its sleep's wake-up time is recorded: the history holds 'before' and the sleep
  await t.notThrowsAsync(async () => {
    for (let i = 0; i < 200 && (await skein.getWorkflowSteps(h.id)).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  });
  const report = await replayCheck(skein, h.id);
  t.deepEqual(report, { workflowId: h.id, name: 'kitSleeper', status: 'PENDING', steps: 2, complete: false });
  await skein.cancelWorkflow(h.id);
  t.like(await replayCheck(skein, h.id), { status: 'CANCELLED', steps: 2, complete: false });
});

test('replayCheck checks what it is given', async (t) => {
  const skein = await launch(t, { workflows: v1 });
  await t.throwsAsync(replayCheck(skein, 'no-such-workflow'), { instanceOf: ConfigError, message: /there is no workflow no-such-workflow/ });
  await t.throwsAsync(replayCheck(skein, 'bad\0id'), { instanceOf: ConfigError, message: /replayCheck workflowId/ });
  await t.throwsAsync(replayCheck(null as never, 'x'), { instanceOf: ConfigError, message: /first argument must be a Skein/ });
});

test('a race replays as it ran: a wait that lost (never recorded) is no divergence, one that won wins again', async (t) => {
  const skein = await launch(t, { workflows: v1 });
  const slept = await skein.start(kitSleepWins, undefined);
  t.deepEqual(await slept.result(), { won: 'slept', after: 2 });
  t.like(await replayCheck(skein, slept.id), { status: 'SUCCESS', complete: true });
  const received = await skein.start(kitRecvWins, undefined);
  t.deepEqual(await received.result(), { won: 'mail', after: 2 });
  t.like(await replayCheck(skein, received.id), { status: 'SUCCESS', complete: true });
});

test('unchanged code that throws a string, an object or a very long message replays without a divergence', async (t) => {
  const skein = await launch(t, { workflows: v1 });
  for (const kind of ['string', 'object', 'long'] as const) {
    const h = await skein.start(kitThrowsOdd, kind);
    await h.result().catch(() => {}); // a string or an object, not an Error
    t.like(await replayCheck(skein, h.id), { status: 'ERROR', complete: true }, kind);
  }
});

test('an unfinished workflow waiting on a recv replays up to its wait', async (t) => {
  const skein = await launch(t, { workflows: v1 });
  const h = await skein.start(kitSleepWins, undefined);
  await h.result();
  // the same history cut short: replayed as if the recv still waited, it is no divergence
  const { kitTimeouts } = await import('../fixtures/kit.ts');
  const waiting = await skein.start(kitTimeouts, undefined);
  for (let i = 0; i < 200 && (await skein.getWorkflowSteps(waiting.id)).length < 1; i++) await new Promise((r) => setTimeout(r, 20));
  t.like(await replayCheck(skein, waiting.id), { status: 'PENDING', steps: 1, complete: false });
  await skein.cancelWorkflow(waiting.id);
});
