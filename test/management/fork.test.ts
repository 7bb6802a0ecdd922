import test from 'ava';
import { Client, ConfigError, ConflictError, SkeinError } from '../../runtime/index.ts';
import * as wf from '../fixtures/manage.ts';
import { count } from '../support/counters.ts';
import { launch, sql, testDatabase, unique } from '../support/helpers.ts';

const workflows = new URL('../fixtures/manage.ts', import.meta.url);

/**
 * A Skein of its own app version: every Skein serves the internal queue, so without it a fork
 * made by one test could be run by the Skein of another, which may be shutting down.
 */
const ownVersion = () => ({ workflows, appVersion: unique('v') });

/** Runs of each of fourSteps' steps so far. */
async function runs(key: string): Promise<number[]> {
  return Promise.all([0, 1, 2, 3].map((i) => count(`${key}:s${i}`)));
}

for (const k of [1, 2, 3]) {
  test(`a fork from step ${k} of a finished 4-step workflow replays steps below ${k} and runs the rest again`, async (t) => {
    const skein = await launch(t, ownVersion());
    const key = unique('k');
    const original = await skein.start(wf.fourSteps, { key });
    t.deepEqual(await original.result(), [1, 1, 1, 1]);

    const fork = await skein.forkWorkflow<number[]>(original.id, { startStep: k });
    t.not(fork.id, original.id);
    // copied steps return their recorded outputs (1); re-run ones count a second run (2)
    t.deepEqual(await fork.result(), [0, 1, 2, 3].map((i) => (i < k ? 1 : 2)));
    t.deepEqual(await runs(key), [0, 1, 2, 3].map((i) => (i < k ? 1 : 2)), 'steps below startStep did not run again');
    const status = await fork.status();
    t.like(status, { status: 'SUCCESS', name: 'fourSteps', forkedFrom: original.id, attempts: 1 });
    t.is(status?.appVersion, skein.appVersion);
    t.deepEqual((await skein.getWorkflowSteps(fork.id)).map((s) => s.name), ['s0', 's1', 's2', 's3']);
    // the original is left as it was
    t.deepEqual(await original.result(), [1, 1, 1, 1]);
  });
}

test('restartWorkflow runs every step again under a new ID', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('k');
  const original = await skein.start(wf.fourSteps, { key });
  await original.result();
  const restarted = await skein.restartWorkflow<number[]>(original.id);
  t.deepEqual(await restarted.result(), [2, 2, 2, 2]);
  t.deepEqual(await runs(key), [2, 2, 2, 2]);
  t.is((await restarted.status())?.forkedFrom, original.id);
});

test('a fork with newId runs under that ID; an ID that exists is a ConflictError; an unknown original a SkeinError', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('k');
  const original = await skein.start(wf.fourSteps, { key });
  await original.result();
  const newId = unique('fork');
  const fork = await skein.forkWorkflow(original.id, { startStep: 4, newId });
  t.is(fork.id, newId);
  t.deepEqual(await fork.result(), [1, 1, 1, 1], 'all four steps copied: nothing runs again');
  t.deepEqual(await runs(key), [1, 1, 1, 1]);

  const taken = await t.throwsAsync(skein.forkWorkflow(original.id, { newId }), { instanceOf: ConflictError });
  t.regex(taken!.message, new RegExp(newId));
  const none = unique('none');
  const unknown = await t.throwsAsync(skein.forkWorkflow(none), { instanceOf: SkeinError });
  t.regex(unknown!.message, new RegExp(`no workflow with ID '${none}'`));
});

test('a startStep beyond the recorded steps is a ConfigError naming both, and writes nothing', async (t) => {
  const skein = await launch(t, ownVersion());
  const original = await skein.start(wf.fourSteps, { key: unique('k') });
  await original.result();
  const newId = unique('fork');
  const err = await t.throwsAsync(skein.forkWorkflow(original.id, { startStep: 5, newId }), { instanceOf: ConfigError });
  t.regex(err!.message, /startStep/);
  t.regex(err!.message, /\b5\b/);
  t.regex(err!.message, /\b4\b/);
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1 OR forked_from = $2', [newId, original.id]), []);
  t.deepEqual(await sql('SELECT step_id FROM skein.steps WHERE workflow_id = $1', [newId]), []);
});

test('a fork copies the events its copied steps set (the last value below startStep), and not those of later steps until they run', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('k');
  const original = await skein.start(wf.eventful, { key });
  t.deepEqual(await original.result(), [1, 1, 1]);
  t.is(await skein.getEvent(original.id, 'early', { timeoutMs: 0 }), 'v2');

  // on a queue nobody serves, the fork cannot run further than what was copied
  const parked = unique('nobody');
  const upTo2 = await skein.forkWorkflow(original.id, { startStep: 2, queue: parked });
  t.is(await skein.getEvent(upTo2.id, 'early', { timeoutMs: 0 }), 'v1', 'the value set below startStep, not the original\'s latest');
  const upTo4 = await skein.forkWorkflow(original.id, { startStep: 4, queue: parked });
  t.is(await skein.getEvent(upTo4.id, 'early', { timeoutMs: 0 }), 'v2');
  t.is(await skein.getEvent(upTo4.id, 'late', { timeoutMs: 0 }), null, 'set by step 4, which was not copied');
  t.is((await upTo4.status())?.status, 'ENQUEUED');

  // once it runs (resumed: it moves to the internal queue), step 4 sets it again
  await skein.resumeWorkflow(upTo4.id);
  t.deepEqual(await upTo4.result(), [1, 1, 2]);
  t.is(await skein.getEvent(upTo4.id, 'late', { timeoutMs: 0 }), 'late-1', 'b was copied: its recorded output');
  t.is(await count(`${key}:b`), 1);
  t.is(await count(`${key}:c`), 2);
});

test('a Client forks a workflow; a Skein runs it under the original\'s app version', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('k');
  const original = await skein.start(wf.fourSteps, { key });
  await original.result();
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const fork = await client.forkWorkflow<number[]>(original.id, { startStep: 3 });
  t.deepEqual(await fork.result(), [1, 1, 1, 2]);
  t.deepEqual(await runs(key), [1, 1, 1, 2]);
  const [row] = await sql('SELECT app_version, forked_from, queue FROM skein.workflow_status WHERE id = $1', [fork.id]);
  t.like(row, { app_version: skein.appVersion, forked_from: original.id, queue: 'skein.internal' });
});

test('a fork onto a named queue waits there until a process serving it claims it', async (t) => {
  const queue = unique('q');
  const version = ownVersion();
  const skein = await launch(t, version);
  const key = unique('k');
  const original = await skein.start(wf.fourSteps, { key });
  await original.result();
  const fork = await skein.forkWorkflow<number[]>(original.id, { startStep: 2, queue });
  t.is((await fork.status())?.queue, queue);
  await launch(t, { ...version, queues: [{ name: queue }] });
  t.deepEqual(await fork.result(), [1, 1, 2, 2]);
});
