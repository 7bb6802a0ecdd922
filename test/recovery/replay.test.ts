import test from 'ava';
import { NonDeterminismError } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, sql, unique } from '../support/helpers.ts';

/** Makes a finished workflow PENDING again, as if its process had died, minus `dropSteps`. */
async function rewind(id: string, keepSteps: number): Promise<void> {
  await sql('DELETE FROM skein.steps WHERE workflow_id = $1 AND step_id >= $2', [id, keepSteps]);
  await sql(
    `UPDATE skein.workflow_status SET status = 'PENDING', output = NULL, error = NULL,
       completed_at = NULL WHERE id = $1`,
    [id],
  );
}

test('a replay returns recorded step results without calling the step functions', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const handle = await skein.start(wf.threeSteps, { key, n: 4 });
  t.is(await handle.result(), 100);
  await rewind(handle.id, 3);
  const recovered = await skein.recoverPendingWorkflows();
  t.deepEqual(recovered.map((h) => h.id), [handle.id]);
  t.is(await handle.result(), 100);
  for (const step of ['add', 'double', 'square']) t.is(await count(`${key}:${step}`), 1, step);
  t.is((await handle.status())?.attempts, 2);
});

test('a replay resumes after the last recorded step and runs only what is missing', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const handle = await skein.start(wf.threeSteps, { key, n: 1 });
  t.is(await handle.result(), 16);
  await rewind(handle.id, 2);
  await skein.recoverPendingWorkflows();
  t.is(await handle.result(), 16);
  t.is(await count(`${key}:add`), 1);
  t.is(await count(`${key}:double`), 1);
  t.is(await count(`${key}:square`), 2);
  t.deepEqual((await skein.getWorkflowSteps(handle.id)).map((s) => s.name), ['add', 'double', 'square']);
});

test('durable now, random and uuid replay their recorded values', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const handle = await skein.start(wf.durableValues, { key });
  const first = await handle.result();
  t.true(first.now instanceof Date);
  await rewind(handle.id, 4);
  await skein.recoverPendingWorkflows();
  t.deepEqual(await handle.result(), first);
  t.is(await count(key), 1);
});

test('a replay that meets a differently named step fails with NonDeterminismError naming both', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const handle = await skein.start(wf.nondeterministic, { key });
  t.is(await handle.result(), 1);
  await rewind(handle.id, 1);
  await skein.recoverPendingWorkflows();
  const err = await t.throwsAsync(handle.result(), { instanceOf: NonDeterminismError });
  t.regex(err!.message, /recorded as 'original' but the code now calls 'renamed'/);
});

test('recovery skips workflows of another app version', async (t) => {
  const skein = await launch(t);
  const handle = await skein.start(wf.echo, 'v-other', { appVersion: 'some-other-version' });
  t.deepEqual(await skein.recoverPendingWorkflows(), []);
  t.is((await handle.status())?.status, 'PENDING');
  t.is((await handle.status())?.appVersion, 'some-other-version');
});
