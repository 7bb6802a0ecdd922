import test from 'ava';
import { once } from 'node:events';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, messageFrom, spawnFixture, sql, stdoutOf, testDatabase, unique, waitFor } from '../support/helpers.ts';

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
  t.teardown(() => child.kill('SIGKILL'));
  const out = stdoutOf(child);
  await messageFrom(child, "'waiting' (its getEvent in place)");
  await skein.run(wf.eventSetter, { key: 'ready', values: ['go'] }, { id });
  const setAt = Date.now(); // the event committed before the run ended
  const { value, waitedMs, gotAt } = JSON.parse(await out);
  t.is(value, 'go');
  // Timed from the setEvent, not from the child's start (which includes the setter's run): a
  // NOTIFY answers within ms of the commit. Without it only the Client's safety poll (10 s
  // after it connected, which was just before the handshake) or the 20 s timeout would.
  t.log(`woken ${gotAt - setAt} ms after the setter ended (${waitedMs} ms after getEvent began)`);
  t.true(gotAt - setAt < 5000, `woken ${gotAt - setAt} ms after the setter ended, not by its NOTIFY`);
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
  t.teardown(() => child.kill('SIGKILL'));
  await messageFrom(child, "'started'");
  // Asleep once its wake-up time is recorded (the skein.sleep step); timed from that record,
  // not from when this test noticed it (a second later on a loaded machine). Its commit comes
  // after the sleep began, so the kill comes at least 1 s into the sleep and the restart at
  // least 4 s after it began: 1 s after it was due.
  const sleepRecorded = async () =>
    (await sql<{ at: Date }>(`SELECT completed_at AS at FROM skein.steps WHERE workflow_id = $1 AND name = 'skein.sleep'`, [id]))[0]?.at;
  await waitFor(async () => (await sleepRecorded()) !== undefined, 60_000, 'the child recording its sleep');
  const asleepSince = (await sleepRecorded())!.getTime();
  await new Promise((r) => setTimeout(r, Math.max(0, asleepSince + 1000 - Date.now())));
  child.kill('SIGKILL');
  await once(child, 'exit');
  const diedAt = Date.now();
  // The restarted process, with its thread booted, so the timing below is the sleep's alone
  // (under tsx on a loaded machine a cold thread takes seconds). Its recovery is the one
  // launch runs (recover: true calls recoverPendingWorkflows()), at the 4 s mark.
  const skein = await launch(t, { executorId, recover: false, threads: 1 });
  await skein.run(wf.echo, 'warm');
  await new Promise((r) => setTimeout(r, Math.max(0, asleepSince + 4000 - Date.now())));
  const restartedAt = Date.now();
  t.deepEqual((await skein.recoverPendingWorkflows()).map((h) => h.id), [id]);
  const { sleptAt, wokeAt } = (await skein.retrieve(id).result()) as { sleptAt: number; wokeAt: number };
  t.true(wokeAt - sleptAt >= 3000, 'it slept its full 3 s');
  // It was due before the restart: it wakes as soon as it is replayed. A broken resume would
  // wake no earlier than the restart plus what was left of 3 s counting only the time its
  // process lived (at most diedAt - sleptAt), or plus a fresh 3 s: the bound is the earlier
  // of the two, about 2 s (it was 1 s, which a loaded machine's recovery can take).
  const brokenAfter = 3000 - (diedAt - sleptAt);
  t.log(`woke ${wokeAt - restartedAt} ms after the restart (a broken resume: ${brokenAfter} ms or more)`);
  t.true(wokeAt - restartedAt < brokenAfter, `woke ${wokeAt - restartedAt} ms after the restart, not at once`);
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
