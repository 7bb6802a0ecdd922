import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, spawnFixture, sql, stdoutOf, testDatabase, unique, waitFor } from '../support/helpers.ts';

test('a parent starts 10 children on a queue; killing its thread midway starts no duplicate and the sum is right', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { threads: 2, queues: [{ name: queue, workerConcurrency: 4 }] });
  const key = unique('k');
  const parent = await skein.start(wf.sumChildren, { n: 10, queue, key });
  await waitFor(async () => (await count(`${key}:started`)) >= 5);
  await skein.killThread(parent.id);
  const result = await parent.result();
  t.deepEqual(result, { sum: [...Array(10).keys()].reduce((a, i) => a + i * i, 0), firstChildStatus: 'SUCCESS' });
  const children = await sql('SELECT id, parent_id, queue FROM skein.workflow_status WHERE parent_id = $1 ORDER BY id', [parent.id]);
  t.is(children.length, 10, 'exactly ten children');
  t.true(children.every((c) => c.queue === queue));
  t.deepEqual(children.map((c) => c.id).sort(), [...Array(10).keys()].map((i) => `${parent.id}-${2 * i}`).sort());
  const childStatus = await skein.retrieve(children[0].id).status();
  t.is(childStatus?.parentId, parent.id);
  const steps = await skein.getWorkflowSteps(parent.id);
  t.is(steps.filter((s) => s.childWorkflowId).length, 10);
});

test("a child's error reaches the parent's result() with its class and properties", async (t) => {
  const skein = await launch(t);
  const result = await skein.run(wf.failingChild, null);
  t.like(result, { name: 'InsufficientFunds', needed: 5 });
  t.is((await skein.retrieve(result!.id).status())?.status, 'ERROR');
});

test('a child start on a queue this process does not serve throws ConfigError in the parent', async (t) => {
  const skein = await launch(t);
  t.is(await skein.run(wf.childOnUnknownQueue, null), 'ConfigError');
});

test('a workflow enqueued by a Client in another process runs, and the client reads its result', async (t) => {
  const queue = unique('q');
  await launch(t, { queues: [{ name: queue }] });
  const out = stdoutOf(spawnFixture('child-client.ts', [await testDatabase(), 'enqueue', 'echo', queue, JSON.stringify({ hello: 'queue' })]));
  const { value } = JSON.parse(await out);
  t.deepEqual(value.result, { hello: 'queue' });
  const status = (await sql('SELECT status, queue, app_version FROM skein.workflow_status WHERE id = $1', [value.id]))[0];
  t.like(status, { status: 'SUCCESS', queue });
  t.truthy(status.app_version, 'stamped with the dequeuing executor\'s version');
});

test('a Client may enqueue on a queue nobody serves yet: it waits, then runs when one does', async (t) => {
  const queue = unique('later');
  const first = await launch(t);
  const { Client } = await import('../../runtime/index.ts');
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const handle = await client.enqueue({ workflow: 'echo', queue }, 'waited');
  await new Promise((r) => setTimeout(r, 300));
  t.is((await handle.status())?.status, 'ENQUEUED');
  void first;
  await launch(t, { queues: [{ name: queue }] });
  t.is(await handle.result(), 'waited');
});
