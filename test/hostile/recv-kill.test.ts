// Issue 10, point 5: a thread killed while recv takes a message. Aborting the wait once let the
// redispatch load the steps before the statement that takes the message and records the step
// had committed: the next attempt missed the message, stopped on a conflict, and the workflow
// stayed PENDING for good. A trigger that delays recording the recv step widens the window.
import test from 'ava';
import { launch, sql, unique, waitFor } from '../support/helpers.ts';
import { receiveOnce } from '../fixtures/poison.ts';

const poisonModule = new URL('../fixtures/poison.ts', import.meta.url);

for (const parkAfterMs of [600_000, 0]) {
  const how = parkAfterMs ? 'waiting on its thread' : 'woken from parking';
  test(`a thread killed while recv takes its message (${how}): the message is received once`, async (t) => {
    const skein = await launch(t, { workflows: poisonModule, threads: 2, parkAfterMs });
    const handle = await skein.start(receiveOnce, undefined);
    const fn = unique('slow_recv').replace(/-/g, '_');
    await sql(`CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.workflow_id = '${handle.id}' AND NEW.name = 'skein.recv' THEN PERFORM pg_sleep(2); END IF;
      RETURN NEW; END $$`);
    await sql(`CREATE TRIGGER ${fn} BEFORE INSERT ON skein.steps FOR EACH ROW EXECUTE FUNCTION ${fn}()`);
    t.teardown(() => sql(`DROP TRIGGER IF EXISTS ${fn} ON skein.steps`));
    // its recv deadline is recorded: it is waiting (or parked) now
    await waitFor(async () => (await sql('SELECT 1 FROM skein.steps WHERE workflow_id = $1', [handle.id])).length > 0);
    await new Promise((r) => setTimeout(r, 300));
    await skein.send(handle.id, 'the message', 'in');
    // the take is in flight (held 2 s by the trigger) once the workflow is back on a thread
    let killed = false;
    for (const until = Date.now() + 1500; !killed && Date.now() < until; ) {
      try {
        await new Promise((r) => setTimeout(r, 100));
        await skein.killThread(handle.id);
        killed = true;
      } catch {
        // not on a thread yet (a wake loads it first)
      }
    }
    t.true(killed, 'the thread was killed while the take was in flight');
    t.is(await handle.result(), 'the message');
    const steps = await sql<{ name: string }>('SELECT name FROM skein.steps WHERE workflow_id = $1 ORDER BY step_id', [handle.id]);
    t.deepEqual(steps.map((s) => s.name), ['skein.recv.deadline', 'skein.recv']);
    t.deepEqual(await sql('SELECT * FROM skein.messages WHERE destination_id = $1', [handle.id]), [], 'taken once');
  });
}
