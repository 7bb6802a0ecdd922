import test from 'ava';
import { Client, ConfigError } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { createTestDatabase, launch, testDatabase, unique } from '../support/helpers.ts';

test('a Client sends, reads events, follows handles and lists workflows', async (t) => {
  const skein = await launch(t);
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const id = unique('rcv');
  const receiving = await skein.start(wf.receiver, { topics: ['t', 't'], timeoutMs: 10_000 }, { id });
  await client.send(id, { from: 'client' }, 't');
  await client.send(id, 'twice?', 't', { idempotencyKey: 'once' });
  await client.send(id, 'twice?', 't', { idempotencyKey: 'once' });
  t.deepEqual(await client.retrieve(id).result(), [{ from: 'client' }, 'twice?']);
  t.deepEqual(await receiving.result(), [{ from: 'client' }, 'twice?']);
  t.is((await client.retrieve(id).status())?.status, 'SUCCESS');

  const setter = await skein.start(wf.eventSetter, { key: 'k', values: ['v'] });
  t.is(await client.getEvent(setter.id, 'k', { timeoutMs: 10_000 }), 'v');
  t.is(await client.getEvent(setter.id, 'nope', { timeoutMs: 100 }), null);
  t.deepEqual((await client.listWorkflows({ ids: [id] })).map((s) => s.name), ['receiver']);
  t.deepEqual((await client.getWorkflowSteps(id)).map((s) => s.name), [
    'skein.recv.deadline', 'skein.recv', 'skein.recv.deadline', 'skein.recv',
  ]);
});

test("a Client rebuilds a workflow's error by class name without the workflows module", async (t) => {
  const skein = await launch(t);
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const handle = await skein.start(wf.customError, { needed: 3 });
  const err = await t.throwsAsync(client.retrieve(handle.id).result());
  t.is(err!.constructor.name, 'InsufficientFunds');
  t.is((err as wf.InsufficientFunds).needed, 3);
});

test('a Client on a database without skein tables is a ConfigError', async (t) => {
  await t.throwsAsync(Client.connect({ databaseUrl: await createTestDatabase() }), {
    instanceOf: ConfigError,
    message: /launch a Skein on this database first/,
  });
});
