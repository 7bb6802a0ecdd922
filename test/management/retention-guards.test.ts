// What retention must keep although it is finished: rows a queue's rate limit still counts,
// and a child whose parent may still read its result.
import test from 'ava';
import * as wf from '../fixtures/cancel.ts';
import { count } from '../support/counters.ts';
import { launch, sql, unique, waitFor, within } from '../support/helpers.ts';

const workflows = new URL('../fixtures/cancel.ts', import.meta.url);

test.serial("regression: garbageCollect keeps the starts a queue's rate limit counts", async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { workflows, queues: [{ name: queue, rateLimit: { limit: 2, periodMs: 60_000 } }] });
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push((await skein.start(wf.quick, unique('k'), { queue })).id);
  const finished = async () =>
    (await sql(`SELECT count(*)::int AS n FROM skein.workflow_status WHERE id = ANY($1) AND status = 'SUCCESS'`, [ids]))[0].n;
  await waitFor(async () => (await finished()) === 2, 30_000, 'two runs within the limit');
  await skein.garbageCollect({ maxRows: 0 });
  t.is(await finished(), 2, 'the two finished rows in the rate window are kept');
  // a new enqueue wakes the queue: with the window's starts still counted, nothing more runs
  ids.push((await skein.start(wf.quick, unique('k'), { queue })).id);
  await new Promise((r) => setTimeout(r, 1000));
  t.is(await finished(), 2);
});

test.serial('regression: retention keeps a finished child its running parent has yet to read', async (t) => {
  const skein = await launch(t, { workflows });
  const key = unique('k');
  const parent = await skein.start(wf.childReader, key);
  await waitFor(
    async () => (await sql(`SELECT 1 FROM skein.workflow_status WHERE parent_id = $1 AND status = 'SUCCESS'`, [parent.id])).length === 1,
    30_000,
    'the child to finish',
  );
  await skein.garbageCollect({ maxRows: 0 });
  t.is(await within(parent.result(), 30_000, "the parent's result"), 'done');
  t.is(await count(`${key}:ran`), 1);
});

test.serial('a child deleted before its parent reads it: the parent gets an error, recorded, instead of failing its attempts', async (t) => {
  const skein = await launch(t, { workflows });
  const key = unique('k');
  const parent = await skein.start(wf.childReader, key);
  const [child] = await (async () => {
    await waitFor(async () => (await sql('SELECT 1 FROM skein.workflow_status WHERE parent_id = $1', [parent.id])).length === 1, 30_000, 'the child');
    return sql<{ id: string }>('SELECT id FROM skein.workflow_status WHERE parent_id = $1', [parent.id]);
  })();
  await within(skein.retrieve(child!.id).result(), 30_000, "the child's result");
  await skein.deleteWorkflow(child!.id);
  t.regex(String(await within(parent.result(), 30_000, "the parent's result")), /SkeinError: no workflow with ID .* \(it was deleted\)/);
  t.is((await parent.status())?.attempts, 1);
});
