// Issue 10, point 7: starting an ID that belongs to another workflow is a ConflictError naming
// both workflows and the ID, from Skein, from a Client and from inside a workflow.
import test, { type ExecutionContext } from 'ava';
import { Client, ConflictError } from '../../runtime/index.ts';
import { echo, other, startTaken } from '../fixtures/hostile-input.ts';
import { count } from '../support/counters.ts';
import { launch, sql, testDatabase, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/hostile-input.ts', import.meta.url);

function isConflict(t: ExecutionContext, err: Error | undefined, id: string): void {
  t.regex(err?.message ?? '', /'hostile\.echo'/);
  t.regex(err?.message ?? '', /'hostile\.other'/);
  t.true(err?.message.includes(JSON.stringify(id)), err?.message);
}

/** The row of `id`, as the first start left it. */
async function rowOf(id: string) {
  return sql('SELECT name, status, attempts FROM skein.workflow_status WHERE id = $1', [id]);
}

test('Skein.start and run of an ID that belongs to another workflow are ConflictErrors; the same workflow gets its handle', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { workflows, queues: [{ name: queue }] });
  const id = unique('taken');
  t.is(await skein.run(echo, 'first', { id }), 'first');
  isConflict(t, await t.throwsAsync(skein.start(other, 'second', { id }), { instanceOf: ConflictError }), id);
  isConflict(t, await t.throwsAsync(skein.run(other, 'second', { id }), { instanceOf: ConflictError }), id);
  isConflict(t, await t.throwsAsync(skein.start(other, 'second', { id, queue }), { instanceOf: ConflictError }), id);
  t.deepEqual(await rowOf(id), [{ name: 'hostile.echo', status: 'SUCCESS', attempts: 1 }]);
  // the same name still finds the workflow and runs nothing again
  t.is(await (await skein.start(echo, 'ignored', { id })).result(), 'first');
  t.deepEqual(await rowOf(id), [{ name: 'hostile.echo', status: 'SUCCESS', attempts: 1 }]);
});

test('Client.enqueue of an ID that belongs to another workflow is a ConflictError', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { workflows, queues: [{ name: queue }] });
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const id = unique('taken');
  await skein.run(echo, 'first', { id });
  const err = await t.throwsAsync(client.enqueue({ workflow: 'hostile.other', queue, id }, 'second'), {
    instanceOf: ConflictError,
  });
  isConflict(t, err, id);
  t.is(await (await client.enqueue({ workflow: 'hostile.echo', queue, id }, 'again')).result(), 'first');
  t.deepEqual(await rowOf(id), [{ name: 'hostile.echo', status: 'SUCCESS', attempts: 1 }]);
});

test('ctx.startWorkflow on an ID of another workflow throws ConflictError in the parent, recorded: a replay throws it again', async (t) => {
  const skein = await launch(t, { workflows });
  const childId = unique('taken');
  const key = unique('k');
  await skein.run(echo, 'first', { id: childId });
  const parent = await skein.start(startTaken, { childId, key });
  await waitFor(async () => (await count(`${key}:hang`)) >= 1);
  // Gone now: a replay that asked again would start `other` under this ID. A recorded refusal
  // is thrown again instead.
  await sql('DELETE FROM skein.workflow_status WHERE id = $1', [childId]);
  await skein.killThread(parent.id);
  const result = await parent.result();
  t.is(result.caught?.name, 'ConflictError');
  t.is(result.childResult, null);
  t.regex(result.caught!.message, /'hostile\.echo'/);
  t.regex(result.caught!.message, /'hostile\.other'/);
  t.deepEqual(await rowOf(childId), [], 'nothing was started under the ID on replay');
  t.is(await count(`${key}:hang`), 2, 'the body ran again after the kill, past the refused start');
  const [row] = await sql('SELECT status, attempts FROM skein.workflow_status WHERE id = $1', [parent.id]);
  t.is(row.status, 'SUCCESS');
  t.true(row.attempts <= 2, `the refused start is not retried: ${row.attempts} attempts`);
  const [start] = await skein.getWorkflowSteps(parent.id);
  t.is(start?.name, 'skein.start:hostile.other');
  t.is((start?.error as Error | undefined)?.name, 'ConflictError');
  t.is(start?.childWorkflowId, undefined, 'the refused start started no child');
});

test('ctx.startWorkflow on an ID of the same workflow still returns a handle to it', async (t) => {
  const skein = await launch(t, { workflows });
  const childId = unique('mine');
  await skein.run(other, 'first', { id: childId });
  const result = await skein.run(startTaken, { childId, key: unique('k') });
  t.deepEqual(result, { caught: null, childResult: { other: 'first' } });
});
