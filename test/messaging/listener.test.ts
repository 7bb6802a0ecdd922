import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { launch, sql, sqlAt, unique, waitFor } from '../support/helpers.ts';
import { privatePostgres } from '../support/private-postgres.ts';

/** Waits until `ids` are all inside their recv (its deadline step is recorded). */
async function allWaiting(ids: string[]): Promise<void> {
  await waitFor(async () => {
    const [row] = await sql(
      `SELECT count(*)::int AS n FROM skein.steps WHERE workflow_id = ANY($1) AND name = 'skein.recv.deadline'`,
      [ids],
    );
    return row.n === ids.length;
  });
  await new Promise((r) => setTimeout(r, 300)); // their first check ran and found nothing
}

// serial: the other test here kills every LISTEN connection of this database, whose reconnect
// re-checks all waiters (as it should)
test.serial('one NOTIFY wakes only the waiter it concerns: 200 waiting receivers cost no queries', async (t) => {
  // no safety poll within the test: every check it counts is one a NOTIFY caused; the waits
  // stay on their threads (parking has its own test in test/parking/)
  const skein = await launch(t, { threads: 2, workflowsPerThread: 128, safetyPollMs: 600_000, parkAfterMs: 600_000 });
  const handles = await Promise.all(
    Array.from({ length: 200 }, () => skein.start(wf.receiver, { topics: ['t'], timeoutMs: 60_000 })),
  );
  await allWaiting(handles.map((h) => h.id));
  await waitFor(() => skein.waiterStats().waiting === 200);
  const before = skein.waiterStats().checks;
  await new Promise((r) => setTimeout(r, 1000));
  t.is(skein.waiterStats().checks - before, 0, 'waiting costs no queries');
  await skein.send(handles[7]!.id, 'for you', 't');
  t.deepEqual(await handles[7]!.result(), ['for you']);
  const checks = skein.waiterStats().checks - before;
  t.log(`one message to one of 200 waiters: ${checks} check(s)`);
  t.true(checks <= 2, `${checks} checks to deliver one message among 200 waiters`);
  t.is(skein.waiterStats().waiting, 199);
  for (const h of handles) if (h !== handles[7]) await skein.send(h.id, 'bye', 't');
  await Promise.all(handles.map((h) => h.result()));
  t.is(skein.waiterStats().waiting, 0, 'no waiter is left behind');
});

test('the LISTEN connection killed with pg_terminate_backend: waiting workflows still wake on messages', async (t) => {
  // no safety poll within the test: once the reconnect's re-check is done, only a NOTIFY wakes
  const skein = await launch(t, { safetyPollMs: 600_000 });
  const handles = await Promise.all(
    Array.from({ length: 5 }, () => skein.start(wf.receiver, { topics: ['t'], timeoutMs: 60_000 })),
  );
  await allWaiting(handles.map((h) => h.id));
  const killed = await sql(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = 'skein-listen'`,
  );
  t.true(killed.length >= 1);
  // reconnected: a fresh listen backend appears, its LISTEN done
  await waitFor(async () =>
    (await sql(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                AND application_name = 'skein-listen' AND query ILIKE 'LISTEN%' AND state = 'idle'`)).length >= 1,
  30_000, 'the LISTEN connection back');
  const sentAt = Date.now();
  for (const [i, h] of handles.entries()) await skein.send(h.id, `m${i}`, 't');
  t.deepEqual(await Promise.all(handles.map((h) => h.result())), handles.map((_, i) => [`m${i}`]));
  // the safety poll is off: waking at all is the NOTIFY's doing (their recvs would time out
  // after 60 s), and it takes ms
  t.true(Date.now() - sentAt < 5000, `woken ${Date.now() - sentAt} ms after the sends`);
});

test('a Skein shut down while its LISTEN connection reconnects leaves no connection and no retry behind', async (t) => {
  const server = await privatePostgres(t);
  const skein = await launch(t, { databaseUrl: server.url });
  const listening = async () =>
    (await sqlAt<{ n: number }>(server.url, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'skein-listen'`))[0]!.n;
  t.is(await listening(), 1);
  await server.stop();
  await new Promise((r) => setTimeout(r, 500)); // the listener lost its connection and retries
  await skein.shutdown({ timeoutMs: 2000 });
  await server.start();
  // the retries' longest pause is 2 s: a loop left running would have reconnected by now (and
  // kept the test's process alive, retrying, once the server stops at the test's end)
  await new Promise((r) => setTimeout(r, 3000));
  t.is(await listening(), 0, 'nothing listens after the shutdown');
});
