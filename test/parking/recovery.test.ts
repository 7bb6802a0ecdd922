// Parked workflows across process deaths and relaunches: their wake conditions are re-armed
// from Postgres, not dispatched all at once.
import test from 'ava';
import { once } from 'node:events';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, messageFrom, spawnFixture, sql, testDatabase, unique, waitFor } from '../support/helpers.ts';

test('a parked sleep wakes at its recorded time after SIGKILL and relaunch', async (t) => {
  const executorId = unique('exec');
  const id = unique();
  const key = unique('k');
  const child = spawnFixture('child-skein.ts', [
    await testDatabase(), executorId, 'sleeper', id, JSON.stringify({ key, ms: 8000 }),
  ]);
  t.teardown(() => child.kill('SIGKILL'));
  await messageFrom(child, "'started'");
  // parked: its wake-up time is on its row
  const waitKind = async () => (await sql('SELECT wait_kind FROM skein.workflow_status WHERE id = $1', [id]))[0]?.wait_kind;
  await waitFor(async () => (await waitKind()) === 'time', 30_000, 'the sleep parked in the child');
  child.kill('SIGKILL');
  await once(child, 'exit');
  // Down for 2.5 s: a relaunch that slept afresh (8 s from the relaunch), or only what was
  // left counting the time the process lived, would wake at least 2.5 s late. Relaunched
  // about 3 s into the sleep, it is back well before it is due even on a slow machine.
  const diedAt = Date.now();
  await new Promise((r) => setTimeout(r, 2500));

  const relaunching = Date.now();
  const skein = await launch(t, { executorId });
  const relaunched = Date.now();
  t.log(`relaunched in ${relaunched - relaunching} ms, ${relaunching - diedAt} ms after the kill`);
  t.is(skein.waiterStats().parked, 1, 're-armed at launch, not dispatched');
  const { sleptAt, wokeAt } = await skein.retrieve<{ sleptAt: number; wokeAt: number }>(id).result();
  // at the recorded time (or at once, if the relaunch came after it), never a fresh 8 s sleep
  const due = Math.max(sleptAt + 8000, relaunched);
  const brokenLate = relaunching - diedAt; // how late a broken resume would be, at the least
  t.true(wokeAt >= sleptAt + 8000, `woke ${wokeAt - sleptAt} ms after it fell asleep (recorded: 8000)`);
  t.true(wokeAt - due < brokenLate, `woke ${wokeAt - due} ms after it was due (a broken resume: ${brokenLate} ms or more)`);
  t.is(await count(`${key}:sleeping`), 1, 'the step before the sleep ran once');
  t.is((await skein.retrieve(id).status())?.attempts, 2, 'the run after the relaunch counts as a recovery');
});

test('300 parked recvs left by a shutdown are re-armed at relaunch: nothing runs until their messages', async (t) => {
  const executorId = unique('exec');
  const first = await launch(t, { executorId, parkAfterMs: 0, workflowsPerThread: 32 });
  const keys = Array.from({ length: 300 }, () => unique('k'));
  const handles = await Promise.all(keys.map((key) => first.start(wf.countedRecv, { key, timeoutMs: 600_000 })));
  await waitFor(() => first.waiterStats().parked === 300);
  await waitFor(async () =>
    (await sql(`SELECT count(*)::int AS n FROM skein.workflow_status WHERE executor_id = $1 AND wait_kind = 'message'`, [executorId]))[0]!.n === 300,
  );
  await first.shutdown();

  const launchedAt = Date.now();
  const second = await launch(t, { executorId, parkAfterMs: 0 });
  t.log(`relaunch with 300 parked workflows: ${Date.now() - launchedAt} ms`);
  t.is(second.waiterStats().parked, 300);
  await new Promise((r) => setTimeout(r, 500));
  let bodies = 0;
  for (const key of keys) bodies += await count(`${key}:body`);
  t.is(bodies, 300, 'no replay before a wake condition holds');

  await Promise.all(handles.map((h, i) => second.send(h.id, `m${i}`, 't')));
  t.deepEqual(await Promise.all(handles.map((h) => second.retrieve(h.id).result())), handles.map((_, i) => `m${i}`));
  for (const key of keys) {
    t.is(await count(`${key}:before`), 1);
    t.is(await count(`${key}:after`), 1);
  }
});

test('a stale wait record (the workflow woke and moved on before the crash) is not re-armed', async (t) => {
  const executorId = unique('exec');
  const first = await launch(t, { executorId, parkAfterMs: 0 });
  const key = unique('k');
  const handle = await first.start(wf.countedRecv, { key, timeoutMs: 600_000 });
  await waitFor(() => first.waiterStats().parked === 1);
  await first.send(handle.id, 'm', 't');
  t.is(await handle.result(), 'm');
  // as if it had crashed after its recv was recorded: PENDING, with the old record on its row
  await sql(`UPDATE skein.workflow_status SET status = 'PENDING', output = NULL WHERE id = $1`, [handle.id]);
  await sql(`DELETE FROM skein.steps WHERE workflow_id = $1 AND name = 'after'`, [handle.id]);
  await first.shutdown();
  const second = await launch(t, { executorId });
  t.is(second.waiterStats().parked, 0, 'recv already recorded: the record is stale');
  t.is(await second.retrieve(handle.id).result(), 'm');
});
