import test, { type ExecutionContext } from 'ava';
import type { Skein } from '../../runtime/index.ts';
import * as wf from '../fixtures/manage.ts';
import { count } from '../support/counters.ts';
import { launch, sql, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/manage.ts', import.meta.url);

/** Rows of each system table that belong to, or are addressed to, workflow `id`. */
async function traces(id: string): Promise<Record<string, number>> {
  const [row] = await sql(
    `SELECT (SELECT count(*) FROM skein.workflow_status WHERE id = $1)::int AS status,
       (SELECT count(*) FROM skein.steps WHERE workflow_id = $1)::int AS steps,
       (SELECT count(*) FROM skein.events WHERE workflow_id = $1)::int AS events,
       (SELECT count(*) FROM skein.messages WHERE destination_id = $1)::int AS messages,
       (SELECT count(*) FROM skein.message_keys WHERE destination_id = $1)::int AS message_keys`,
    [id],
  );
  return row;
}

/** A finished leavesTraces workflow with two unread messages to it, one of them keyed. */
async function finishedWithTraces(skein: Skein): Promise<string> {
  const h = await skein.start(wf.leavesTraces, { tag: unique('tag') });
  await h.result();
  await skein.send(h.id, 'unread');
  await skein.send(h.id, 'keyed', 'topic', { idempotencyKey: unique('key') });
  return h.id;
}

const FULL = { status: 1, steps: 2, events: 1, messages: 2, message_keys: 1 };
const NONE = { status: 0, steps: 0, events: 0, messages: 0, message_keys: 0 };

test('deleting a finished workflow removes its row, steps, events and the messages to it, and nothing of others', async (t) => {
  const skein = await launch(t, { workflows });
  const doomed = await finishedWithTraces(skein);
  const kept = await finishedWithTraces(skein);
  t.deepEqual(await traces(doomed), FULL);

  await skein.deleteWorkflow(doomed);
  t.deepEqual(await traces(doomed), NONE);
  t.is(await skein.retrieve(doomed).status(), null);
  t.deepEqual(await skein.getWorkflowSteps(doomed), []);
  t.is(await skein.getEvent(doomed, 'tag', { timeoutMs: 0 }), null);
  t.deepEqual(await traces(kept), FULL, 'the other workflow keeps everything');

  // deleting what is not there (any more) is fine
  await skein.deleteWorkflow(doomed);
  await skein.deleteWorkflow(unique('never'));
});

/** A finished family tree of depth 2, fanout 2: the root, its 2 children and 4 grandchildren. */
async function finishedTree(t: ExecutionContext, skein: Skein): Promise<{ root: string; descendants: string[] }> {
  const h = await skein.start(wf.family, { depth: 2, fanout: 2 });
  t.is(await h.result(), 7);
  const rows = await sql<{ id: string }>(
    `WITH RECURSIVE d AS (SELECT id FROM skein.workflow_status WHERE parent_id = $1
       UNION SELECT w.id FROM skein.workflow_status w JOIN d ON w.parent_id = d.id)
     SELECT id FROM d`,
    [h.id],
  );
  return { root: h.id, descendants: rows.map((r) => r.id) };
}

test('children: true deletes every descendant; without it they stay', async (t) => {
  const skein = await launch(t, { workflows });
  const withChildren = await finishedTree(t, skein);
  const alone = await finishedTree(t, skein);
  t.is(withChildren.descendants.length, 6);

  await skein.deleteWorkflow(withChildren.root, { children: true });
  for (const id of [withChildren.root, ...withChildren.descendants]) t.deepEqual(await traces(id), NONE, id);

  await skein.deleteWorkflow(alone.root);
  t.deepEqual(await traces(alone.root), NONE);
  for (const id of alone.descendants) {
    t.like(await traces(id), { status: 1, events: 1 }, `${id} stays`);
    t.is((await skein.retrieve(id).status())?.status, 'SUCCESS');
  }
});

test('a running workflow is cancelled, then deleted, and leaves nothing behind', async (t) => {
  const skein = await launch(t, { workflows });
  const key = unique('k');
  const handle = await skein.start(wf.gated, { key });
  await waitFor(async () => (await count(`${key}:first`)) === 1, 30_000, 'the first step');
  await skein.deleteWorkflow(handle.id);
  t.deepEqual(await traces(handle.id), NONE);
  // a message that would have let it go on reaches nobody: it never runs its second step
  await skein.send(handle.id, 'go', 'go');
  const other = await skein.start(wf.fourSteps, { key: unique('k') });
  await other.result(); // the process went on working meanwhile
  t.is(await count(`${key}:second`), 0);
  t.deepEqual(await traces(handle.id), { ...NONE, messages: 1 });
});
