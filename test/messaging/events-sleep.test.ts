import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, spawnFixture, sql, stdoutOf, testDatabase, unique, waitFor } from '../support/helpers.ts';

test('the latest setEvent wins; getEvent on a missing event returns null at its timeout', async (t) => {
  const skein = await launch(t);
  const setter = await skein.start(wf.eventSetter, { key: 'k', values: [1, { two: 2 }, 'three'] });
  await setter.result();
  t.is(await skein.getEvent(setter.id, 'k'), 'three');
  const started = Date.now();
  t.is(await skein.getEvent(setter.id, 'missing', { timeoutMs: 300 }), null);
  t.true(Date.now() - started >= 280);
});

test('getEvent waiting in another process is woken by setEvent', async (t) => {
  const skein = await launch(t);
  const id = unique('setter');
  const child = spawnFixture('child-client.ts', [await testDatabase(), 'getEvent', id, 'ready', '20000']);
  const out = stdoutOf(child);
  await new Promise((r) => setTimeout(r, 1500)); // the child connects and starts waiting
  await skein.run(wf.eventSetter, { key: 'ready', values: ['go'] }, { id });
  const { value, waitedMs } = JSON.parse(await out);
  t.is(value, 'go');
  t.true(waitedMs < 10_000, `woken after ${waitedMs} ms, not at the timeout`);
});

test('a workflow that read an event and is replayed after it changed sees the old value', async (t) => {
  const skein = await launch(t);
  const setter = await skein.start(wf.eventSetter, { key: 'k', values: ['old'] });
  await setter.result();
  const counter = unique('c');
  const getter = await skein.start(wf.eventGetter, { target: setter.id, key: 'k', timeoutMs: 5000, counter });
  t.is(await getter.result(), 'old');
  await skein.run(wf.eventSetter, { key: 'k', values: ['new'] }, { id: setter.id + '-2' });
  await sql(`INSERT INTO skein.events (workflow_id, key, value) SELECT $1, 'k', value FROM skein.events
             WHERE workflow_id = $2 ON CONFLICT (workflow_id, key) DO UPDATE SET value = EXCLUDED.value`,
    [setter.id, setter.id + '-2']);
  t.is(await skein.getEvent(setter.id, 'k'), 'new');
  // rewind the getter past its 'after' step and recover it: the recorded read replays
  await sql(`DELETE FROM skein.steps WHERE workflow_id = $1 AND name = 'after'`, [getter.id]);
  await sql(`UPDATE skein.workflow_status SET status = 'PENDING' WHERE id = $1`, [getter.id]);
  await skein.recoverPendingWorkflows();
  t.is(await getter.result(), 'old');
  t.is(await count(`${counter}:after`), 2);
});

test('a workflow sleeping 3 s whose process is killed after 1 s, restarted after 4 s, wakes at once', async (t) => {
  const executorId = unique('exec');
  const id = unique();
  const key = unique('k');
  const child = spawnFixture('child-skein.ts', [await testDatabase(), executorId, 'sleeper', id, JSON.stringify({ key, ms: 3000 })]);
  await waitFor(async () => (await count(`${key}:sleeping`)) === 1);
  const sleepingSince = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  child.kill('SIGKILL');
  // The restarted process, with its thread booted, so the timing below is the sleep's alone
  // (under tsx on a loaded machine a cold thread takes seconds). Its recovery is the one
  // launch runs (recover: true calls recoverPendingWorkflows()), at the 4 s mark.
  const skein = await launch(t, { executorId, recover: false, threads: 1 });
  await skein.run(wf.echo, 'warm');
  await new Promise((r) => setTimeout(r, Math.max(0, sleepingSince + 4000 - Date.now())));
  const restartedAt = Date.now();
  t.deepEqual((await skein.recoverPendingWorkflows()).map((h) => h.id), [id]);
  const { sleptAt, wokeAt } = (await skein.retrieve(id).result()) as { sleptAt: number; wokeAt: number };
  t.true(wokeAt - sleptAt >= 3000, 'it slept its full 3 s');
  t.true(wokeAt - restartedAt < 1000, `woke ${wokeAt - restartedAt} ms after the restart, not 3 s`);
  const steps = await skein.getWorkflowSteps(id);
  t.deepEqual(steps.map((s) => s.name), ['announce', 'skein.sleep', 'woke']);
});

test('a Client in another process reads a result, woken by the completion NOTIFY', async (t) => {
  const skein = await launch(t);
  const handle = await skein.start(wf.cpuHeavy, { ms: 1000 });
  const out = stdoutOf(spawnFixture('child-client.ts', [await testDatabase(), 'result', handle.id]));
  const { value } = JSON.parse(await out);
  t.is(value, 3);
});
