import test from 'ava';
import { Client, ConflictError, MaxRecoveryAttemptsError, SkeinError, WorkflowCancelledError } from '../../runtime/index.ts';
import * as wf from '../fixtures/manage.ts';
import { bump, count } from '../support/counters.ts';
import { launch, sql, testDatabase, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/manage.ts', import.meta.url);

/**
 * A Skein of its own app version: every Skein serves the internal queue, so without it a
 * workflow resumed by one test could be run by the Skein of another, which may be shutting down.
 */
const ownVersion = () => ({ workflows, appVersion: unique('v') });

test('a dead-lettered workflow, resumed once its bug is fixed, completes without re-running its completed steps', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('k');
  const handle = await skein.start(wf.fragile, { key });
  await t.throwsAsync(handle.result(), { instanceOf: MaxRecoveryAttemptsError });
  const dead = await handle.status();
  t.is(dead?.status, 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');
  t.is(dead?.attempts, 2);
  const crashes = await count(`${key}:risky`);
  t.is(crashes, 2, 'one crash per dispatch');

  await bump(`${key}:fixed`); // the "deploy" that fixes the bug
  const resumed = await skein.resumeWorkflow<string>(handle.id);
  t.is(resumed.id, handle.id, 'under the same ID');
  t.is(await resumed.result(), 'fixed');
  t.is(await count(`${key}:before`), 1, 'the step completed before the crashes did not run again');
  t.is(await count(`${key}:risky`), crashes + 1);
  t.is(await count(`${key}:after`), 1);
  const done = await resumed.status();
  t.like(done, { status: 'SUCCESS', attempts: 1, queue: 'skein.internal' });
  t.is(done?.error, undefined);
});

test('resuming a SUCCESS or ERROR workflow is a ConflictError naming it and its status; nothing changes', async (t) => {
  const skein = await launch(t, ownVersion());
  const ok = await skein.start(wf.fourSteps, { key: unique('k') });
  await ok.result();
  const err = await t.throwsAsync(skein.resumeWorkflow(ok.id), { instanceOf: ConflictError });
  t.true(err!.message.includes(ok.id) && err!.message.includes('SUCCESS'), err!.message);

  const failed = await skein.start(wf.fails, null);
  await t.throwsAsync(failed.result(), { message: 'failed on purpose' });
  const err2 = await t.throwsAsync(skein.resumeWorkflow(failed.id), { instanceOf: ConflictError });
  t.true(err2!.message.includes(failed.id) && err2!.message.includes('ERROR'), err2!.message);
  t.like(await ok.status(), { status: 'SUCCESS', attempts: 1 });
  t.like(await failed.status(), { status: 'ERROR', attempts: 1 });
});

test('resuming an unknown ID is a SkeinError', async (t) => {
  const skein = await launch(t, ownVersion());
  const id = unique('none');
  await t.throwsAsync(skein.resumeWorkflow(id), { instanceOf: SkeinError, message: `no workflow with ID '${id}'` });
});

test('an ENQUEUED workflow on a queue nobody serves runs once resumed (it moves to the internal queue)', async (t) => {
  const skein = await launch(t, ownVersion());
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const key = unique('k');
  const handle = await client.enqueue<number[]>(
    { workflow: 'fourSteps', queue: unique('nobody'), appVersion: skein.appVersion },
    { key },
  );
  t.is((await handle.status())?.status, 'ENQUEUED');
  await client.resumeWorkflow(handle.id);
  t.deepEqual(await skein.retrieve(handle.id).result(), [1, 1, 1, 1]);
  t.like(await handle.status(), { status: 'SUCCESS', queue: 'skein.internal', attempts: 1 });
});

test('resuming a running workflow changes nothing', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('k');
  const handle = await skein.start(wf.gated, { key });
  await waitFor(async () => (await count(`${key}:first`)) === 1, 30_000, 'the first step');
  const before = await sql('SELECT status, queue, attempts, executor_id FROM skein.workflow_status WHERE id = $1', [handle.id]);
  await skein.resumeWorkflow(handle.id);
  t.deepEqual(await sql('SELECT status, queue, attempts, executor_id FROM skein.workflow_status WHERE id = $1', [handle.id]), before);
  await skein.send(handle.id, 'go', 'go');
  t.is(await handle.result(), 'go');
  t.is(await count(`${key}:first`), 1);
});

test('a cancelled workflow, resumed, goes on from its last completed step', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('k');
  const handle = await skein.start(wf.gated, { key });
  // recorded, not only run: a step that returns after the cancel is not recorded, and runs again
  await waitFor(async () => (await skein.getWorkflowSteps(handle.id)).some((s) => s.name === 'first'), 30_000, 'the first step');
  await skein.cancelWorkflow(handle.id);
  // its execution here has ended (result() follows it), not only its row says CANCELLED
  await t.throwsAsync(handle.result(), { instanceOf: WorkflowCancelledError });
  t.is((await handle.status())?.status, 'CANCELLED');
  const resumed = await skein.resumeWorkflow<string>(handle.id);
  await skein.send(handle.id, 'again', 'go');
  t.is(await resumed.result(), 'again');
  t.is(await count(`${key}:first`), 1, 'the first step was recorded: not run again');
  t.is(await count(`${key}:second`), 1);
  t.like(await resumed.status(), { status: 'SUCCESS', attempts: 1 });
});
