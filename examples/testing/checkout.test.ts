// Testing your workflows with skein/testing, written as an application's test would be
// (README, "Testing your workflows"). `npm test` runs it beside skein's own suite.
import test from 'ava';
import { Skein } from 'skein';
import { clock, database, everyCrashPoint, replayCheck, type TestDatabase } from 'skein/testing';
import { checkout, reminder } from './workflows.ts';

const time = clock();
let db: TestDatabase;
let skein: Skein;

test.before(async () => {
  db = await database(); // this file's own database, dropped at the end
  skein = await Skein.launch({
    workflows: new URL('./workflows.ts', import.meta.url),
    databaseUrl: db.url,
    clock: time,
    threads: 2,
  });
});

test.after.always(async () => {
  await skein?.shutdown();
  await db?.drop();
});

test('checkout survives a crash at every step', async (t) => {
  // a crash after each step's checkpoint and inside each step; a failure names the point
  await t.notThrowsAsync(everyCrashPoint(skein, checkout, { id: '42', items: 3, email: 'ada@example.com' }));
});

test('the reminder goes out three days after sign-up', async (t) => {
  const handle = await skein.start(reminder, 'ada@example.com');
  await time.advance(3 * 24 * 60 * 60 * 1000);
  t.is(await handle.result(), 'reminded ada@example.com');
});

test("today's code replays yesterday's checkouts", async (t) => {
  const handle = await skein.start(checkout, { id: '43', items: 1, email: 'grace@example.com' });
  await handle.result();
  const report = await replayCheck(skein, handle.id);
  t.true(report.complete);
});
