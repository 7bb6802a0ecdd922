// A Client may enqueue a workflow no running executor knows (a rolling deploy): executors
// claim only names their module exports, so it waits ENQUEUED holding no slot, and runs once
// an executor that has it serves the queue.
import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { launch, sql, testDatabase, unique, within } from '../support/helpers.ts';
import { Client } from '../../runtime/index.ts';

test('a workflow name no executor knows waits ENQUEUED without holding the queue; known ones behind it run', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { queues: [{ name: queue, workerConcurrency: 1, concurrency: 1 }] });
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const unknown = await client.enqueue({ workflow: 'not-deployed-yet', queue }, 1);
  const known = await client.enqueue({ workflow: wf.echo.name, queue }, 'hello');
  // with one slot, queue-wide, this finishes only if the unknown one holds nothing
  t.is(await within(known.result(), 30_000, 'the known workflow behind the unknown one'), 'hello');
  const [row] = await sql('SELECT status, attempts, executor_id FROM skein.workflow_status WHERE id = $1', [unknown.id]);
  t.like(row, { status: 'ENQUEUED', attempts: 0, executor_id: 'client' });
  t.is((await skein.listWorkflows({ queue, status: ['PENDING'] })).length, 0);
});
