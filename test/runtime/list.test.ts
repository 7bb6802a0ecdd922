import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { launch, unique } from '../support/helpers.ts';

test('listWorkflows filters by ids, prefix, name and status, and pages in creation order', async (t) => {
  const skein = await launch(t);
  const prefix = unique('list');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const h = await skein.start(wf.echo, i, { id: `${prefix}-${i}` });
    await h.result();
    ids.push(h.id);
  }
  const failed = await skein.start(wf.customError, { needed: 1 }, { id: `${prefix}-err` });
  await t.throwsAsync(failed.result());

  const all = await skein.listWorkflows({ idPrefix: prefix });
  t.deepEqual(all.map((s) => s.id), [...ids, failed.id]);
  t.deepEqual(all.slice(0, 5).map((s) => s.output), [0, 1, 2, 3, 4]);

  t.deepEqual((await skein.listWorkflows({ ids: [ids[3]!, ids[1]!] })).map((s) => s.id), [ids[1], ids[3]]);
  t.deepEqual((await skein.listWorkflows({ idPrefix: prefix, name: 'customError' })).map((s) => s.id), [failed.id]);
  const errors = await skein.listWorkflows({ idPrefix: prefix, status: ['ERROR'] });
  t.deepEqual(errors.map((s) => s.id), [failed.id]);
  t.true(errors[0]!.error instanceof wf.InsufficientFunds);
  t.deepEqual(
    (await skein.listWorkflows({ idPrefix: prefix, status: 'SUCCESS', desc: true, limit: 2, offset: 1 })).map((s) => s.id),
    [ids[3], ids[2]],
  );
  const bare = await skein.listWorkflows({ ids: [ids[0]!], loadInput: false, loadOutput: false });
  t.false('input' in bare[0]! || 'output' in bare[0]!);
  t.is(bare[0]!.status, 'SUCCESS');
});

test('listWorkflows refuses unknown statuses and negative limits', async (t) => {
  const skein = await launch(t);
  await t.throwsAsync(skein.listWorkflows({ status: ['DONE' as any] }), { message: /filter\.status/ });
  await t.throwsAsync(skein.listWorkflows({ limit: -1 }), { message: /filter\.limit/ });
});

test('shutdown lets running workflows finish within its timeout', async (t) => {
  const skein = await launch(t);
  const handle = await skein.start(wf.cpuHeavy, { ms: 100 });
  await skein.shutdown({ timeoutMs: 10_000 });
  const other = await launch(t);
  t.is(await other.retrieve(handle.id).result(), 3);
  t.is((await other.retrieve(handle.id).status())?.attempts, 1, 'finished before shutdown, not recovered');
});
