import test from 'ava';
import { SkeinError } from '../../runtime/index.ts';
import * as wf from '../fixtures/manage.ts';
import { count } from '../support/counters.ts';
import { launch, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/manage.ts', import.meta.url);

test('raising the priority of the last of three enqueued workflows runs it before the others', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { workflows, queues: [{ name: queue, workerConcurrency: 1, priority: true }] });
  const key = unique('k');
  // the blocker holds the queue's one slot while the three wait behind it
  const blocker = await skein.start(wf.gated, { key: `${key}-blocker` }, { queue });
  await waitFor(async () => (await count(`${key}-blocker:first`)) === 1, 30_000, 'the blocker running');
  const waiting = [];
  for (let i = 0; i < 3; i++) waiting.push(await skein.start(wf.ordered, { key }, { queue, priority: 10 }));
  t.true((await Promise.all(waiting.map((h) => h.status()))).every((s) => s?.status === 'ENQUEUED'));

  await skein.setWorkflowPriority(waiting[2]!.id, 1);
  t.is((await waiting[2]!.status())?.priority, 1);
  await skein.send(blocker.id, 'go', 'go');
  // each returns its turn: the raised one first, the others in the order they were enqueued
  t.deepEqual(await Promise.all(waiting.map((h) => h.result())), [2, 3, 1]);
});

test('setWorkflowPriority leaves a workflow that is not ENQUEUED as it is; an unknown ID is a SkeinError', async (t) => {
  const skein = await launch(t, { workflows });
  const done = await skein.start(wf.ordered, { key: unique('k') });
  await done.result();
  await skein.setWorkflowPriority(done.id, 5);
  t.like(await done.status(), { status: 'SUCCESS', priority: 0 });
  const id = unique('none');
  await t.throwsAsync(skein.setWorkflowPriority(id, 5), { instanceOf: SkeinError, message: /no workflow with ID/ });
});
