// Issue 10, point 5: a thread killed while recv takes a message. Aborting the wait once let the
// redispatch load the steps before the statement that takes the message and records the step
// had committed: the next attempt missed the message, stopped on a conflict, and the workflow
// stayed PENDING for good. A trigger holds the recording of the recv step until the test lets
// it go, so the kill lands while the take is in flight, however slow the machine.
import test from 'ava';
import pg from 'pg';
import { launch, sql, testDatabase, unique, waitFor, within } from '../support/helpers.ts';
import { receiveOnce } from '../fixtures/poison.ts';

const poisonModule = new URL('../fixtures/poison.ts', import.meta.url);

for (const parkAfterMs of [600_000, 0]) {
  const how = parkAfterMs ? 'waiting on its thread' : 'woken from parking';
  // serial, and the trigger dropped once this test's Skein is down: DROP TRIGGER queues for an
  // exclusive lock on skein.steps, and a transaction of a running Skein that read the table
  // and then writes it would deadlock with it
  test.serial(`a thread killed while recv takes its message (${how}): the message is received once`, async (t) => {
    const skein = await launch(t, { workflows: poisonModule, threads: 2, parkAfterMs });
    const handle = await skein.start(receiveOnce, undefined);
    // The take (one statement: delete the message, record the recv step) waits inside its
    // transaction for an advisory lock this test holds, and shows in pg_locks while it does.
    const lock = 1 + Math.floor(Math.random() * 2 ** 30);
    const holder = new pg.Client({ connectionString: await testDatabase() });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [lock]);
    const fn = unique('held_recv').replace(/-/g, '_');
    await sql(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.workflow_id = '${handle.id}' AND NEW.name = 'skein.recv' THEN PERFORM pg_advisory_xact_lock(${lock}); END IF;
      RETURN NEW; END $$`);
    await sql(`CREATE TRIGGER ${fn} BEFORE INSERT ON skein.steps FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    // the lock goes first (a take held by it would hold up the shutdown), then the Skein
    t.teardown(async () => {
      await holder.end();
      await skein.shutdown({ timeoutMs: 2000 });
      await sql(`DROP TRIGGER IF EXISTS ${fn} ON skein.steps`);
    });

    // its recv deadline is recorded, and it waits: on its thread (a waiter on main), or parked
    await waitFor(async () => (await sql('SELECT 1 FROM skein.steps WHERE workflow_id = $1', [handle.id])).length > 0,
      30_000, 'its recv deadline recorded');
    const stats = () => skein.waiterStats();
    await waitFor(() => (parkAfterMs ? stats().waiting : stats().parked) === 1, 30_000, `the receiver ${parkAfterMs ? 'waiting' : 'parked'}`);
    await skein.send(handle.id, 'the message', 'in');
    // the take is in flight (woken from parking, the workflow was loaded on a thread first)
    await waitFor(
      async () => (await sql(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted
                              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, [lock])).length > 0,
      30_000,
      'the take waiting for the lock',
    );
    await waitFor(async () => skein.killThread(handle.id).then(() => true, () => false), 30_000, 'its thread to kill');
    // the take stays in flight 2 s more (the pg_sleep(2) this test used held it at most that
    // long after the kill): the window in which the redispatch once loaded the steps without it
    await new Promise((r) => setTimeout(r, 2000));
    await holder.query('SELECT pg_advisory_unlock($1)', [lock]);

    // the bug left it PENDING for good
    t.is(await within(handle.result(), 60_000, 'its result'), 'the message');
    const steps = await sql<{ name: string }>('SELECT name FROM skein.steps WHERE workflow_id = $1 ORDER BY step_id', [handle.id]);
    t.deepEqual(steps.map((s) => s.name), ['skein.recv.deadline', 'skein.recv']);
    t.deepEqual(await sql('SELECT * FROM skein.messages WHERE destination_id = $1', [handle.id]), [], 'taken once');
  });
}
