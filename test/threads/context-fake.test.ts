// The workflow context without a database or a worker thread: Context runs in this thread and
// test/support/fake-main.ts answers its channel from memory, like Temporal's workflow tests
// with synthetic activations. Each test takes milliseconds.
import test, { type ExecutionContext } from 'ava';
import { decodeError, decodeValue } from '../../common/codec.ts';
import {
  ConfigError,
  ConflictError,
  NonDeterminismError,
  SerializationError,
  SkeinError,
  StepTimeoutError,
  WorkflowCancelledError,
} from '../../common/errors.ts';
import type { WorkerRequest } from '../../common/protocol.ts';
import { fakeMain, recordedError, recordedValue, type FakeMain, type FakeMainOptions } from '../support/fake-main.ts';

class InsufficientFunds extends Error {
  code = 'E_FUNDS';
  constructor(
    message: string,
    readonly needed: number,
  ) {
    super(message);
    this.name = 'InsufficientFunds';
  }
}

const errorClasses = new Map([['InsufficientFunds', InsufficientFunds]]);

function start(t: ExecutionContext, opts: FakeMainOptions = {}): FakeMain {
  const fake = fakeMain(opts);
  t.teardown(() => fake.close());
  return fake;
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Lets every queued message, reply and continuation run (several event-loop turns). */
async function settle(ms = 20): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, ms));
}

/** A step function that fails the test if it runs. */
function mustNotRun(t: ExecutionContext, name: string): () => unknown {
  return () => {
    t.fail(`step '${name}' ran during a replay`);
    return null;
  };
}

const steps = (reqs: readonly WorkerRequest[]) =>
  reqs.map((r) => `${r.type}${'stepId' in r ? `#${r.stepId}` : ''}${r.type === 'checkpoint' ? `:${r.name}` : ''}`);

// ---- replay ----------------------------------------------------------------------------------

test('replay returns recorded values without running the steps, then runs the next step', async (t) => {
  const fake = start(t, {
    recorded: [recordedValue(0, 'a', { n: 1, at: new Date(5) }), recordedValue(1, 'b', 'two')],
  });
  const { ctx } = fake;
  t.deepEqual(await ctx.step('a', mustNotRun(t, 'a')), { n: 1, at: new Date(5) });
  t.is(await ctx.step('b', mustNotRun(t, 'b')), 'two');
  t.deepEqual(fake.requests, [], 'a replayed step sends no checkpoint');

  let ran = 0;
  const c = await ctx.step('c', (s) => (ran++, { stepId: s.stepId, attempt: s.attempt, workflowId: s.workflowId }));
  t.is(ran, 1);
  t.deepEqual(c, { stepId: 2, attempt: 1, workflowId: 'wf-1' });
  t.is(fake.checkpoints.length, 1);
  const [cp] = fake.checkpoints;
  t.is(cp!.stepId, 2);
  t.is(cp!.name, 'c');
  t.is(cp!.error, null);
  t.deepEqual(decodeValue(cp!.output!), c);
  t.is(fake.threadId, 0, 'the channel announced its thread (the main thread here)');
});

test('racing ctx calls take their step ids in call order, whatever finishes first', async (t) => {
  // the recv's deadline is recorded only after the sleep ended and the next step began: were
  // the recv's own id taken then, 'after' would hold it here, and a replay (where nothing
  // waits) would number them the other way and meet a step recorded under another name
  const afterArrived = deferred();
  const fake = start(t, {
    beforeReply: async (req) => {
      if (req.type === 'checkpoint' && req.name === 'after') afterArrived.resolve();
      if (req.type === 'checkpoint' && req.name === 'skein.recv.deadline') await afterArrived.promise;
    },
  });
  const { ctx } = fake;
  const won = await Promise.race([ctx.sleep(5).then(() => 'slept'), ctx.recv('never', { timeoutMs: 60_000 })]);
  t.is(won, 'slept');
  await ctx.step('after', () => 2);
  t.deepEqual(
    fake.checkpoints.map((c) => `${c.stepId}:${c.name}`),
    ['0:skein.sleep', '1:skein.recv.deadline', '3:after'],
  );
});

test('replay rethrows a recorded error as the user class, without running the step', async (t) => {
  const fake = start(t, {
    errorClasses,
    recorded: [recordedError(0, 'charge', new InsufficientFunds('need 7 more', 7))],
  });
  const err = await t.throwsAsync(fake.ctx.step('charge', mustNotRun(t, 'charge')));
  t.true(err instanceof InsufficientFunds);
  t.is(err!.message, 'need 7 more');
  t.is((err as InsufficientFunds).needed, 7);
  t.is((err as InsufficientFunds).code, 'E_FUNDS');
  t.deepEqual(fake.requests, []);
});

test('a step that returned undefined replays undefined, and a null step replays null', async (t) => {
  const first = start(t);
  t.is(await first.ctx.step('u', () => undefined), undefined);
  t.is(await first.ctx.step('n', () => null), null);
  const replay = start(t, { recorded: first.recorded });
  t.is(await replay.ctx.step('u', mustNotRun(t, 'u')), undefined);
  t.is(await replay.ctx.step('n', mustNotRun(t, 'n')), null);
  t.deepEqual(replay.requests, []);
});

// ---- non-determinism -------------------------------------------------------------------------

test('a renamed step raises NonDeterminismError naming both names, and every later ctx call throws it', async (t) => {
  const fake = start(t, { recorded: [recordedValue(0, 'a', 1), recordedValue(1, 'b', 2)] });
  const { ctx } = fake;
  t.is(await ctx.step('a', mustNotRun(t, 'a')), 1);
  const err = await t.throwsAsync(ctx.step('renamed', mustNotRun(t, 'renamed')), { instanceOf: NonDeterminismError });
  t.regex(err!.message, /step 1: recorded as 'b' but the code now calls 'renamed'/);
  t.is((err as NonDeterminismError).code, 'NON_DETERMINISM');
  t.is(ctx.nonDeterminism, err);

  // the workflow cannot get past it: the original name, and every other call, throw it again
  const later: Array<() => Promise<unknown>> = [
    () => ctx.step('b', mustNotRun(t, 'b')),
    () => ctx.step('new', mustNotRun(t, 'new')),
    () => ctx.sleep(1),
    () => ctx.now(),
    () => ctx.random(),
    () => ctx.uuid(),
    () => ctx.send('other', 'hi'),
    () => ctx.recv('topic'),
    () => ctx.setEvent('k', 1),
    () => ctx.getEvent('other', 'k'),
  ];
  for (const call of later) t.is(await t.throwsAsync(call()), err);
  await settle(1);
  t.deepEqual(fake.requests, [], 'nothing was sent after the divergence');
});

test('a replay that calls another ctx method where a built-in step was recorded is non-deterministic', async (t) => {
  // recorded: a recv (its deadline step); the code now calls getEvent first
  const fake = start(t, { recorded: [recordedValue(0, 'skein.recv.deadline', Date.now() + 1000)] });
  const err = await t.throwsAsync(fake.ctx.getEvent('other', 'k'), { instanceOf: NonDeterminismError });
  t.regex(err!.message, /recorded as 'skein\.recv\.deadline' but the code now calls 'skein\.getEvent\.deadline'/);
  t.deepEqual(fake.requests, []);
});

// ---- ctx inside a step -----------------------------------------------------------------------

test('ctx calls inside a step are refused with a SkeinError, and use no step id', async (t) => {
  const fake = start(t);
  const { ctx } = fake;
  const refused: unknown[] = [];
  const out = await ctx.step('outer', async () => {
    for (const call of [
      () => ctx.sleep(10),
      () => ctx.step('inner', () => 1),
      () => ctx.send('dest', 'x'),
      () => ctx.recv('t'),
      () => ctx.now(),
    ]) {
      // a refusal made inside an awaited callback is still inside the step
      await new Promise((r) => setTimeout(r, 0));
      refused.push(await call().then(() => 'not refused', (e: unknown) => e));
    }
    return 'done';
  });
  t.is(out, 'done');
  t.is(refused.length, 5);
  for (const err of refused) {
    t.true(err instanceof SkeinError, String(err));
    t.false(err instanceof NonDeterminismError);
  }
  const messages = refused.map((e) => (e as Error).message);
  t.regex(messages[0]!, /^ctx\.sleep\('10'\) was called inside step 'outer'/);
  t.regex(messages[1]!, /^ctx\.step\('inner'\) was called inside step 'outer'/);
  t.regex(messages[2]!, /^ctx\.send\('dest'\) was called inside step 'outer'/);
  t.regex(messages[3]!, /^ctx\.recv\('t'\) was called inside step 'outer'/);
  t.regex(messages[4]!, /^ctx\.(now|step)\(.*\) was called inside step 'outer'/);

  // only the outer step was sent, and the refusal is not sticky: the next step is id 1
  t.deepEqual(steps(fake.requests), ['checkpoint#0:outer']);
  t.is(await ctx.step('after', (s) => s.stepId), 1);
  t.is(ctx.nonDeterminism, undefined);
  t.is(ctx.stopped, undefined);
});

// ---- concurrency -----------------------------------------------------------------------------

test('Promise.all of steps numbers them in call order whatever finishes first, and a replay returns each value to its step', async (t) => {
  const fake = start(t);
  const { ctx } = fake;
  const gates = { a: deferred(), b: deferred(), c: deferred() };
  const all = Promise.all(
    (['a', 'b', 'c'] as const).map((name) =>
      ctx.step(name, async (s) => {
        await gates[name].promise;
        return { name, stepId: s.stepId };
      }),
    ),
  );
  // finish them last to first, each checkpoint arriving before the next finishes
  for (const name of ['c', 'b', 'a'] as const) {
    gates[name].resolve();
    while (!fake.checkpoints.some((c) => c.name === name)) await settle(1);
  }
  const values = await all;
  t.deepEqual(values, [
    { name: 'a', stepId: 0 },
    { name: 'b', stepId: 1 },
    { name: 'c', stepId: 2 },
  ]);
  t.deepEqual(
    fake.checkpoints.map((c) => [c.name, c.stepId]),
    [
      ['c', 2],
      ['b', 1],
      ['a', 0],
    ],
  );

  // the same code replayed from what main recorded: nothing runs, each step gets its own value
  const replay = start(t, { recorded: fake.recorded });
  const replayed = await Promise.all(['a', 'b', 'c'].map((name) => replay.ctx.step(name, mustNotRun(t, name))));
  t.deepEqual(replayed, values);
  t.deepEqual(replay.requests, []);

  // code that calls them in another order diverges at the first swapped id
  const swapped = start(t, { recorded: fake.recorded });
  const err = await t.throwsAsync(
    Promise.all(['b', 'a', 'c'].map((name) => swapped.ctx.step(name, mustNotRun(t, name)))),
    { instanceOf: NonDeterminismError },
  );
  t.regex(err!.message, /step 0: recorded as 'a' but the code now calls 'b'/);
});

test('a crash between the out-of-order checkpoints of Promise.all: the replay runs only the missing step, under its own id', async (t) => {
  // steps 0 and 2 committed, step 1 had not when the execution died
  const fake = start(t, { recorded: [recordedValue(0, 'a', 'A'), recordedValue(2, 'c', 'C')] });
  const ran: number[] = [];
  const out = await Promise.all([
    fake.ctx.step('a', mustNotRun(t, 'a')),
    fake.ctx.step('b', (s) => (ran.push(s.stepId), 'B')),
    fake.ctx.step('c', mustNotRun(t, 'c')),
  ]);
  t.deepEqual(out, ['A', 'B', 'C']);
  t.deepEqual(ran, [1]);
  t.deepEqual(steps(fake.requests), ['checkpoint#1:b']);
  t.is(await fake.ctx.step('d', (s) => s.stepId), 3);
});

test('a step started beside a replayed one continues the numbering after the recorded ids', async (t) => {
  const fake = start(t, { recorded: [recordedValue(0, 'a', 'A'), recordedValue(1, 'b', 'B')] });
  const { ctx } = fake;
  const out = await Promise.all([
    ctx.step('a', mustNotRun(t, 'a')),
    ctx.step('b', mustNotRun(t, 'b')),
    ctx.step('c', (s) => `C${s.stepId}`),
    ctx.step('d', (s) => `D${s.stepId}`),
  ]);
  t.deepEqual(out, ['A', 'B', 'C2', 'D3']);
  t.deepEqual(steps(fake.requests).sort(), ['checkpoint#2:c', 'checkpoint#3:d']);
});

// ---- checkpoints -----------------------------------------------------------------------------

test("a step's result reaches workflow code only after main acknowledged its checkpoint", async (t) => {
  const ack = deferred();
  const fake = start(t, { beforeReply: (req) => (req.type === 'checkpoint' ? ack.promise : undefined) });
  let ran = false;
  let resolved = false;
  const result = fake.ctx.step('pay', () => ((ran = true), 42)).then((v) => ((resolved = true), v));
  const cp = await fake.received('checkpoint');
  t.true(ran);
  t.is(cp.name, 'pay');
  t.is(decodeValue(cp.output!), 42);
  await settle(30);
  t.false(resolved, 'the step resolved before its checkpoint was acknowledged');
  ack.resolve();
  t.is(await result, 42);
  t.true(resolved);
});

test('a checkpoint main could not commit stops the execution: the value never reaches workflow code', async (t) => {
  const fake = start(t, { fail: (req) => (req.type === 'checkpoint' ? new Error('connection lost') : undefined) });
  const { ctx } = fake;
  const err = await t.throwsAsync(ctx.step('pay', () => 42), { instanceOf: SkeinError });
  t.regex(err!.message, /^checkpoint of step 0 failed: .*connection lost/);
  t.is(ctx.stopped, err);
  // stopped: every later ctx call throws the same, and nothing more is sent
  t.is(await t.throwsAsync(ctx.step('next', () => 1)), err);
  t.is(await t.throwsAsync(ctx.sleep(5)), err);
  t.deepEqual(steps(fake.requests), ['checkpoint#0:pay']);
  t.deepEqual(fake.recorded, []);
});

test('a step still running when its execution stopped records nothing (regression: it used to checkpoint)', async (t) => {
  const fake = start(t, { fail: (req) => (req.type === 'checkpoint' && req.stepId === 0 ? new Error('connection lost') : undefined) });
  const { ctx } = fake;
  let release!: () => void;
  const slow = new Promise<void>((r) => (release = r));
  const [first, second] = await Promise.allSettled([
    ctx.step('fails', () => 1),
    ctx.step('slow', async () => {
      await slow;
      return 2;
    }),
    // the slow step finishes only after its execution stopped
    (async () => {
      while (ctx.stopped === undefined) await new Promise((r) => setImmediate(r));
      release();
    })(),
  ]);
  t.is(first.status, 'rejected');
  t.is(second.status, 'rejected', 'the value of a stopped execution reached workflow code');
  t.is((second as PromiseRejectedResult).reason, ctx.stopped);
  t.deepEqual(steps(fake.requests), ['checkpoint#0:fails'], 'a stopped execution sent a checkpoint');
  t.deepEqual(fake.recorded, []);
});

test('a step another execution recorded first stops this one with the ConflictError itself', async (t) => {
  const fake = start(t);
  // the other execution wins step 0 while this one runs it
  const run = fake.ctx.step('pay', async () => {
    fake.recorded.push(recordedValue(0, 'pay', 'theirs'));
    return 'mine';
  });
  const err = await t.throwsAsync(run, { instanceOf: ConflictError });
  t.is(fake.ctx.stopped, err);
  t.is(decodeValue(fake.recorded[0]!.output!), 'theirs');
});

test('a step result that cannot be stored is recorded as its SerializationError, which replays the same', async (t) => {
  const fake = start(t);
  let calls = 0;
  const err = await t.throwsAsync(fake.ctx.step('fn', () => (calls++, () => 'a function')), {
    instanceOf: SerializationError,
  });
  t.regex(err!.message, /step 'fn' result cannot be stored/);
  t.is(calls, 1);
  const [cp] = fake.checkpoints;
  t.is(cp!.output, null);
  t.true(decodeError(cp!.error!) instanceof SerializationError);
  t.is(fake.ctx.stopped, undefined, 'the workflow may go on');

  const replay = start(t, { recorded: fake.recorded });
  await t.throwsAsync(replay.ctx.step('fn', mustNotRun(t, 'fn')), { instanceOf: SerializationError, message: err!.message });
});

// ---- recv, getEvent, send, setEvent ----------------------------------------------------------

test('recv and getEvent return what main answers (null on a timeout), each recorded as a deadline checkpoint and a step main records', async (t) => {
  const before = Date.now();
  const fake = start(t, {
    messages: { '': ['hello'], orders: [{ id: 1 }] },
    events: { other: { status: 'ready' } },
  });
  const { ctx } = fake;
  t.is(await ctx.recv<string>(), 'hello');
  t.deepEqual(await ctx.recv('orders'), { id: 1 });
  t.is(await ctx.recv('orders', { timeoutMs: 5 }), null);
  t.is(await ctx.getEvent('other', 'status'), 'ready');
  t.is(await ctx.getEvent('other', 'missing', { timeoutMs: 5 }), null);

  // the worker checkpoints only the deadlines; main records the values it answered with
  t.deepEqual(steps(fake.requests), [
    'checkpoint#0:skein.recv.deadline',
    'recv#1',
    'checkpoint#2:skein.recv.deadline',
    'recv#3',
    'checkpoint#4:skein.recv.deadline',
    'recv#5',
    'checkpoint#6:skein.getEvent.deadline',
    'getEvent#7',
    'checkpoint#8:skein.getEvent.deadline',
    'getEvent#9',
  ]);
  t.deepEqual(
    fake.recorded.map((s) => [s.stepId, s.name, decodeValue(s.output!)]).filter(([, name]) => !String(name).endsWith('.deadline')),
    [
      [1, 'skein.recv', 'hello'],
      [3, 'skein.recv', { id: 1 }],
      [5, 'skein.recv', null],
      [7, 'skein.getEvent', 'ready'],
      [9, 'skein.getEvent', null],
    ],
  );
  // each wait carries the deadline its checkpoint recorded, the topic or target, and, nothing
  // else of the workflow running, gives up its slot
  const waits = fake.requests.filter((r) => r.type === 'recv' || r.type === 'getEvent');
  for (const w of waits) {
    const deadline = fake.checkpoints.find((c) => c.stepId === w.stepId - 1)!;
    t.is(w.deadline, decodeValue<number>(deadline.output!));
    t.true(w.suspend);
  }
  t.deepEqual(
    waits.map((w) => (w.type === 'recv' ? w.topic : `${w.workflowId}/${w.key}`)),
    ['', 'orders', 'orders', 'other/status', 'other/missing'],
  );
  t.true(waits[0]!.deadline >= before + 60_000, 'the default timeout is 60 s');
  t.true(waits[2]!.deadline <= Date.now() + 5);

  // replayed from the record with an empty inbox: the same values, nothing asked of main
  const replay = start(t, { recorded: fake.recorded });
  t.deepEqual(
    [
      await replay.ctx.recv(),
      await replay.ctx.recv('orders'),
      await replay.ctx.recv('orders', { timeoutMs: 5 }),
      await replay.ctx.getEvent('other', 'status'),
      await replay.ctx.getEvent('other', 'missing', { timeoutMs: 5 }),
    ],
    ['hello', { id: 1 }, null, 'ready', null],
  );
  t.deepEqual(replay.requests, []);
});

test('a recv recovered after its deadline was recorded waits for the recorded deadline, not a new one', async (t) => {
  const deadline = Date.now() + 1234;
  const fake = start(t, { recorded: [recordedValue(0, 'skein.recv.deadline', deadline)], messages: { t: ['late'] } });
  t.is(await fake.ctx.recv('t', { timeoutMs: 60_000 }), 'late');
  t.deepEqual(steps(fake.requests), ['recv#1']);
  const [req] = fake.requests;
  t.is(req!.type === 'recv' && req.deadline, deadline);
});

test('send and setEvent are recorded by main with their effect, and a replay does not repeat them', async (t) => {
  const fake = start(t);
  await fake.ctx.send('dest', { hi: 1 }, 'greetings');
  await fake.ctx.setEvent('progress', 50);
  t.is(await fake.ctx.getEvent('wf-1', 'progress'), 50);
  t.deepEqual(steps(fake.requests), ['send#0', 'setEvent#1', 'checkpoint#2:skein.getEvent.deadline', 'getEvent#3']);
  t.deepEqual(
    fake.sent.map((m) => [m.destinationId, m.topic, decodeValue(m.message)]),
    [['dest', 'greetings', { hi: 1 }]],
  );
  t.deepEqual(fake.recorded.slice(0, 2).map((s) => [s.stepId, s.name, s.output]), [
    [0, 'skein.send', null],
    [1, 'skein.setEvent', null],
  ]);
  const replay = start(t, { recorded: fake.recorded });
  await replay.ctx.send('dest', { hi: 1 }, 'greetings');
  await replay.ctx.setEvent('progress', 50);
  t.deepEqual(replay.requests, []);
  t.deepEqual(replay.sent, []);
});

test('an unstorable message is refused before anything is sent, and does not stop the workflow', async (t) => {
  const fake = start(t);
  await t.throwsAsync(fake.ctx.send('dest', { f: () => 1 }), { instanceOf: SerializationError });
  t.deepEqual(fake.requests, []);
  t.is(fake.ctx.stopped, undefined);
  // the refused send still took its step id: a replay making the same call is refused the same way
  t.is(await fake.ctx.step('next', (s) => s.stepId), 1);
});

// ---- sleep -----------------------------------------------------------------------------------

test('sleep records its wake-up time, waits for it through main, and a replay past it does not wait', async (t) => {
  const fake = start(t);
  const before = Date.now();
  await fake.ctx.sleep(50_000); // main answers at once
  t.deepEqual(steps(fake.requests), ['checkpoint#0:skein.sleep', 'sleep#1']);
  const wakeAt = decodeValue<number>(fake.checkpoints[0]!.output!);
  t.true(wakeAt >= before + 50_000 && wakeAt <= Date.now() + 50_000);
  const sleep = fake.requests[1]!;
  t.true(sleep.type === 'sleep' && sleep.until === wakeAt && sleep.suspend);

  // recovered before the wake-up: waits for the recorded time, without a new checkpoint
  const early = start(t, { recorded: fake.recorded });
  await early.ctx.sleep(1);
  t.deepEqual(steps(early.requests), ['sleep#1']);
  t.is(early.requests[0]!.type === 'sleep' && early.requests[0].until, wakeAt);

  // recovered after it: goes straight on
  const late = start(t, { recorded: [recordedValue(0, 'skein.sleep', Date.now() - 1)] });
  await late.ctx.sleep(50_000);
  t.deepEqual(late.requests, []);
});

// ---- retries ---------------------------------------------------------------------------------

test('a failing step with retries runs retries+1 times, waits each back-off through main, and records its error once', async (t) => {
  const started = Date.now();
  const fake = start(t, { errorClasses });
  const attempts: number[] = [];
  const err = await t.throwsAsync(
    fake.ctx.step(
      'charge',
      (s) => {
        attempts.push(s.attempt);
        throw new InsufficientFunds(`attempt ${s.attempt}`, s.attempt);
      },
      { retries: 2, baseDelayMs: 60_000, backoff: 2, maxDelayMs: 100_000 },
    ),
  );
  t.deepEqual(attempts, [1, 2, 3]);
  t.true(err instanceof InsufficientFunds);
  t.is(err!.message, 'attempt 3');
  t.is((err as InsufficientFunds).needed, 3);

  // the back-offs (60 s, then 120 s capped at 100 s) were main's to serve, not slept here
  t.true(Date.now() - started < 5_000);
  const backoffs = fake.requests.filter((r) => r.type === 'backoff');
  t.is(backoffs.length, 2);
  t.true(backoffs[0]!.until >= started + 60_000 && backoffs[0]!.until < started + 65_000);
  t.true(backoffs[1]!.until >= started + 100_000 && backoffs[1]!.until < started + 105_000);
  t.true(backoffs.every((b) => b.suspend), 'a back-off holds no slot');

  t.deepEqual(steps(fake.requests), ['backoff#0', 'backoff#0', 'checkpoint#0:charge']);
  const [cp] = fake.checkpoints;
  t.is(cp!.output, null);
  const recorded = decodeError(cp!.error!, errorClasses);
  t.true(recorded instanceof InsufficientFunds);
  t.is((recorded as Error).message, 'attempt 3');

  // a replay rethrows the recorded error without any attempt
  const replay = start(t, { errorClasses, recorded: fake.recorded });
  const again = await t.throwsAsync(replay.ctx.step('charge', mustNotRun(t, 'charge'), { retries: 2 }));
  t.true(again instanceof InsufficientFunds);
  t.deepEqual(replay.requests, []);
});

test('a step that succeeds on a retry records only its value', async (t) => {
  const fake = start(t);
  const out = await fake.ctx.step(
    'flaky',
    (s) => {
      if (s.attempt < 3) throw new Error(`failure ${s.attempt}`);
      return { attempt: s.attempt };
    },
    { retries: 5, baseDelayMs: 10_000 },
  );
  t.deepEqual(out, { attempt: 3 });
  t.deepEqual(steps(fake.requests), ['backoff#0', 'backoff#0', 'checkpoint#0:flaky']);
  t.is(fake.checkpoints[0]!.error, null);
});

// ---- slots, cancel, park ---------------------------------------------------------------------

test('a wait made while a step runs keeps the slot, and the workflow suspends once the step is done', async (t) => {
  const recvReply = deferred();
  const fake = start(t, { beforeReply: (req) => (req.type === 'recv' ? recvReply.promise : undefined) });
  const { ctx } = fake;
  const slow = deferred();
  const both = Promise.all([ctx.recv('t', { timeoutMs: 1000 }), ctx.step('slow', () => slow.promise.then(() => 'S'))]);
  const recv = await fake.received('recv');
  t.false(recv.suspend, 'a step is still running: the wait must not give up the slot');
  await settle(5);
  t.deepEqual(fake.slots, []);

  slow.resolve();
  while (!fake.checkpoints.some((c) => c.name === 'slow')) await settle(1);
  await settle(5);
  t.deepEqual(fake.slots, ['suspend'], 'only the wait remains: main is told so');

  fake.deliver('t', 'M');
  recvReply.resolve();
  t.deepEqual(await both, ['M', 'S']);
  t.deepEqual(fake.slots, ['suspend']);
  t.deepEqual(
    fake.checkpoints.map((c) => [c.stepId, c.name]),
    [
      [0, 'skein.recv.deadline'],
      [2, 'slow'],
    ],
  );
  t.is(recv.stepId, 1, 'a recv takes both its ids when called (see "racing ctx calls")');
});

test('a cancel from main aborts the running step and refuses every later ctx call', async (t) => {
  const fake = start(t);
  const { ctx } = fake;
  const started = deferred();
  const running = ctx.step('long', (s) => {
    started.resolve();
    return new Promise((_, reject) => s.signal.addEventListener('abort', () => reject(new Error('aborted'))));
  }, { retries: 3 });
  await started.promise;
  fake.cancel();
  const err = await t.throwsAsync(running, { instanceOf: WorkflowCancelledError });
  t.regex(err!.message, /workflow wf-1 was cancelled/);
  t.true(ctx.signal.aborted);
  t.is(await t.throwsAsync(ctx.step('after', () => 1)), err);
  // the cancelled step was neither retried nor recorded
  t.deepEqual(fake.requests, []);
});

test('a cancel while the workflow sleeps or waits fails the wait at once with the reason main gave, and stops nothing for a retry', async (t) => {
  const never = new Promise<void>(() => {});
  for (const reason of ['cancelled', 'deadline'] as const) {
    const fake = start(t, { beforeReply: (req) => (req.type === 'sleep' || req.type === 'recv' ? never : undefined) });
    const sleeping = fake.ctx.sleep(60_000);
    await fake.received('sleep');
    fake.cancel(reason);
    const err = await t.throwsAsync(sleeping, { instanceOf: WorkflowCancelledError });
    t.is((err as WorkflowCancelledError).reason, reason);
    t.regex(err!.message, reason === 'deadline' ? /passed its deadline/ : /was cancelled/);
    // the execution is not stopped (which would make main run it again): the workflow ends with the cancellation
    t.is(fake.ctx.stopped, undefined);
    await t.throwsAsync(fake.ctx.recv('t'), { is: err });
    t.deepEqual(steps(fake.requests), ['checkpoint#0:skein.sleep', 'sleep#1']);
  }
});

test('a step with timeoutMs tells main its deadline before each attempt; one without sends nothing extra', async (t) => {
  const fake = start(t);
  await fake.ctx.step('plain', () => 1, { retries: 2 });
  t.deepEqual(fake.stepDeadlines, []);
  const before = Date.now();
  const out = await fake.ctx.step(
    'timed',
    (s) => (s.attempt < 2 ? new Promise(() => {}) : 'second'),
    { timeoutMs: 50, retries: 1, baseDelayMs: 10 },
  );
  t.is(out, 'second');
  t.deepEqual(
    fake.stepDeadlines.map((m) => [m.stepId, m.name, m.attempt, m.last, m.retryDelayMs]),
    [
      [1, 'timed', 1, false, 10],
      [1, 'timed', 2, true, 0],
    ],
  );
  t.true(fake.stepDeadlines[0]!.until >= before + 50);
  // the back-off names its step, so main ends that step's watch
  t.deepEqual(fake.requests.filter((r) => r.type === 'backoff').map((r) => 'stepId' in r && r.stepId), [1]);
});

test('a step attempt that blocks past its timeout fails with StepTimeoutError even though its timer could not fire', async (t) => {
  const fake = start(t);
  const err = await t.throwsAsync(
    fake.ctx.step('busy', () => {
      const end = Date.now() + 80;
      while (Date.now() < end);
      return 'too late';
    }, { timeoutMs: 30 }),
    { instanceOf: StepTimeoutError },
  );
  t.regex(err!.message, /step 'busy' \(step 0, attempt 1\) did not finish within its timeoutMs \(30 ms\)/);
  t.is((decodeError(fake.checkpoints[0]!.error!) as Error).name, 'StepTimeoutError');
});

test('a step resumed after main ended its thread at a timeout goes on from the next attempt', async (t) => {
  const fake = start(t, { stepAttempts: { 0: 2 } });
  const attempts: number[] = [];
  t.is(await fake.ctx.step('again', (s) => attempts.push(s.attempt), { timeoutMs: 1000, retries: 5 }), 1);
  t.deepEqual(attempts, [3]);
});

test('a park from main stops the execution: later ctx calls throw and send nothing', async (t) => {
  const fake = start(t);
  await fake.ctx.step('a', () => 1);
  fake.park();
  await settle(5);
  t.true(fake.ctx.stopped instanceof SkeinError);
  await t.throwsAsync(fake.ctx.step('b', () => 2), { message: /left its thread to wait/ });
  t.deepEqual(steps(fake.requests), ['checkpoint#0:a']);
});

test('invalid step options and names are refused before a step id is taken', async (t) => {
  const fake = start(t);
  await t.throwsAsync(fake.ctx.step('bad', () => 1, { retries: -1 }), { instanceOf: ConfigError, message: /retries/ });
  await t.throwsAsync(fake.ctx.step('', () => 1), { instanceOf: ConfigError, message: /ctx\.step name must be a non-empty string/ });
  // a user step may not pass for one of skein's own, which a replay would take it for
  await t.throwsAsync(fake.ctx.step('skein.now', () => 1), { instanceOf: ConfigError, message: /skein's own/ });
  await t.throwsAsync(fake.ctx.sleep(-5), { instanceOf: ConfigError, message: /ctx\.sleep\(ms\) must be a number/ });
  await t.throwsAsync(fake.ctx.recv('t', { timeoutMs: -1 }), { instanceOf: ConfigError, message: /timeoutMs/ });
  t.deepEqual(fake.requests, []);
  t.is(await fake.ctx.step('ok', (s) => s.stepId), 0);
});

test('a step recorded under a name newer limits refuse still replays (a workflow in flight across an upgrade)', async (t) => {
  const long = 'x'.repeat(600);
  const fake = start(t, { recorded: [recordedValue(0, long, 'old'), recordedValue(1, 'skein.legacy', 'older')] });
  t.is(await fake.ctx.step(long, () => 'new'), 'old');
  t.is(await fake.ctx.step('skein.legacy', () => 'new'), 'older');
  // the same names on a first run are refused
  await t.throwsAsync(fake.ctx.step(long, () => 1), { instanceOf: ConfigError, message: /at most 255/ });
  await t.throwsAsync(fake.ctx.step('skein.legacy', () => 1), { instanceOf: ConfigError, message: /skein's own/ });
});
