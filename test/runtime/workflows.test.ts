import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, sql, unique } from '../support/helpers.ts';

test('a three-step workflow returns its result and lists its steps in order', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const handle = await skein.start(wf.threeSteps, { key, n: 2 });
  t.is(await handle.result(), 36);
  const steps = await skein.getWorkflowSteps(handle.id);
  t.deepEqual(
    steps.map((s) => [s.stepId, s.name, s.output]),
    [
      [0, 'add', 3],
      [1, 'double', 6],
      [2, 'square', 36],
    ],
  );
  t.true(steps.every((s) => s.completedAt instanceof Date && s.startedAt instanceof Date));
  const status = await handle.status();
  t.is(status?.status, 'SUCCESS');
  t.is(status?.name, 'threeSteps');
  t.is(status?.attempts, 1);
  t.is(status?.output, 36);
  t.deepEqual(status?.input, { key, n: 2 });
  t.is(status?.appVersion, skein.appVersion);
  t.is(status?.executorId, skein.executorId);
});

test('steps run on a worker thread, not the main thread', async (t) => {
  const skein = await launch(t);
  const where = await skein.run(wf.whereRun, null);
  t.false(where.isMainThread);
  t.not(where.threadId, 0);
});

test('starting the same ID twice runs each step once and both handles see the result', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const id = unique();
  const [h1, h2] = await Promise.all([
    skein.start(wf.threeSteps, { key, n: 1 }, { id }),
    skein.start(wf.threeSteps, { key, n: 1 }, { id }),
  ]);
  t.is(await h1.result(), 16);
  t.is(await h2.result(), 16);
  const h3 = await skein.start(wf.threeSteps, { key, n: 999 }, { id });
  t.is(await h3.result(), 16, 'a later start with the same ID returns the original result');
  for (const step of ['add', 'double', 'square']) t.is(await count(`${key}:${step}`), 1, step);
  t.is((await sql('SELECT count(*)::int AS n FROM skein.workflow_status WHERE id = $1', [id]))[0].n, 1);
});

test('a step that fails twice then succeeds with retries: 3 is called three times', async (t) => {
  const skein = await launch(t);
  const key = unique('flaky');
  const result = await skein.run(wf.flaky, { key, failures: 2 });
  t.deepEqual(result, { calls: 3, attempt: 3 });
  t.is(await count(key), 3);
});

test('a step that keeps failing records its error after the last retry and throws it to the workflow', async (t) => {
  const skein = await launch(t);
  const key = unique('fails');
  const handle = await skein.start(wf.alwaysFails, { key });
  t.deepEqual(await handle.result(), { caught: 'InsufficientFunds', instance: true });
  t.is(await count(key), 3, 'first attempt plus two retries');
  const [step] = await skein.getWorkflowSteps(handle.id);
  t.true(step!.error instanceof wf.InsufficientFunds);
});

test("a workflow's custom error reaches result() with its class, message and own properties", async (t) => {
  const skein = await launch(t);
  const handle = await skein.start(wf.customError, { needed: 42 });
  const err = await t.throwsAsync(handle.result());
  t.true(err instanceof wf.InsufficientFunds);
  t.is(err!.constructor.name, 'InsufficientFunds');
  t.is(err!.name, 'InsufficientFunds');
  t.is(err!.message, 'need 42 more');
  t.is((err as wf.InsufficientFunds).code, 'E_FUNDS');
  t.is((err as wf.InsufficientFunds).needed, 42);
  t.regex(err!.stack ?? '', /need 42 more/);
  t.is((await handle.status())?.status, 'ERROR');
});

test('500 concurrent workflows all finish with correct results', async (t) => {
  const skein = await launch(t, { workflowsPerThread: 32 });
  const key = unique('many');
  const handles = await Promise.all(
    Array.from({ length: 500 }, (_, n) => skein.start(wf.threeSteps, { key, n })),
  );
  const results = await Promise.all(handles.map((h) => h.result()));
  t.deepEqual(
    results,
    Array.from({ length: 500 }, (_, n) => (2 * (n + 1)) ** 2),
  );
  t.is(await count(`${key}:square`), 500);
  const rows = await sql(
    `SELECT count(*)::int AS n FROM skein.workflow_status WHERE id = ANY($1) AND status = 'SUCCESS'`,
    [handles.map((h) => h.id)],
  );
  t.is(rows[0].n, 500);
});

test('run() is start() then result(), and a missing workflow ID rejects', async (t) => {
  const skein = await launch(t);
  t.deepEqual(await skein.run(wf.echo, { a: [1, 2], d: new Date(0), m: new Map([[1, 2n]]) }), {
    a: [1, 2],
    d: new Date(0),
    m: new Map([[1, 2n]]),
  });
  await t.throwsAsync(skein.retrieve('no-such-workflow').result(), { message: /no workflow with ID/ });
  t.is(await skein.retrieve('no-such-workflow').status(), null);
});

test('a workflow whose output cannot be stored ends in ERROR with a SerializationError', async (t) => {
  const skein = await launch(t);
  const err = await t.throwsAsync(skein.run(wf.badOutput, null));
  t.is(err!.name, 'SerializationError');
});
