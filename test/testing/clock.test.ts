// skein/testing's clock: workflow time moves when the test says so. Sleeps, recv and getEvent
// timeouts, deadlines, delayed starts and schedules all come due without waiting, on real
// threads and a real database.
import test from 'ava';
import { ConfigError, Skein, WorkflowCancelledError } from '../../runtime/index.ts';
import { clock, database } from '../../runtime/testing/index.ts';
import { kitChild, kitDay, kitSleeper, kitThrice, kitTimeouts } from '../fixtures/kit.ts';
import { launch, testDatabase } from '../support/helpers.ts';

const workflows = new URL('../fixtures/kit.ts', import.meta.url);

/**
 * A database for one test: the time a test clock shows reaches the database too (a delayed
 * start another Skein's clock finds due is released for all), so tests whose clocks differ
 * must not share one.
 */
async function ownDatabase(t: Parameters<typeof launch>[0]): Promise<string> {
  const db = await database({ url: process.env.SKEIN_TEST_DATABASE_URL });
  t.teardown(() => db.drop());
  return db.url;
}
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

test('a workflow that sleeps a day finishes when the clock is moved a day', async (t) => {
  const time = clock();
  const databaseUrl = await ownDatabase(t);
  const skein = await launch(t, { workflows, clock: time, databaseUrl });
  const began = performance.now();
  const h = await skein.start(kitDay, undefined);
  // advance first waits until the workflow reached its sleep
  await time.advance(DAY);
  const slept = await h.result();
  const tookMs = performance.now() - began;
  t.log(`a day's sleep took ${Math.round(tookMs)} ms`);
  t.true(slept >= DAY && slept < DAY + 60_000, `slept ${slept} ms by its clock`);
  t.true(tookMs < 60_000); // not a day: the bound is loose, the speed is measured elsewhere
});

test('one advance goes from timer to timer: three sleeps of an hour wake in three hours', async (t) => {
  const time = clock();
  const databaseUrl = await ownDatabase(t);
  const skein = await launch(t, { workflows, clock: time, databaseUrl });
  const h = await skein.start(kitThrice, undefined);
  await time.advance(2 * HOUR + 30 * 60_000);
  t.is((await h.status())?.status, 'PENDING');
  await time.advance(HOUR);
  t.is(await h.result(), 'woke thrice');
});

test('recv and getEvent time out, deadlines pass, delayed starts and debounces come due on the test clock', async (t) => {
  const time = clock();
  const databaseUrl = await ownDatabase(t);
  const skein = await launch(t, { workflows, clock: time, databaseUrl });
  const waits = await skein.start(kitTimeouts, undefined);
  const late = await skein.start(kitSleeper, undefined, { timeoutMs: HOUR / 2 });
  const delayed = await skein.start(kitChild, 4, { delayMs: DAY });
  const bounced = await skein.debounce(kitChild, 3, { key: 'clock', delayMs: HOUR });
  t.is((await delayed.status())?.status, 'ENQUEUED');
  await time.advance(HOUR / 2);
  t.is((await bounced.status())?.status, 'ENQUEUED');
  const err = await t.throwsAsync(late.result(), { instanceOf: WorkflowCancelledError });
  t.is((err as WorkflowCancelledError).reason, 'deadline');
  t.is((await waits.status())?.status, 'PENDING');
  await time.advance(2 * HOUR);
  t.deepEqual(await waits.result(), { message: null, event: null });
  t.is(await bounced.result(), 9);
  t.is((await delayed.status())?.status, 'ENQUEUED');
  await time.advance(DAY);
  t.is(await delayed.result(), 12);
});

test("a debounce's maxWaitMs holds on the test clock, however far it moved between calls", async (t) => {
  const time = clock();
  const databaseUrl = await ownDatabase(t);
  const skein = await launch(t, { workflows, clock: time, databaseUrl });
  const MIN = 60_000;
  const opts = { key: 'burst', delayMs: 10 * MIN, maxWaitMs: 30 * MIN };
  const h = await skein.debounce(kitChild, 1, opts);
  for (let i = 0; i < 3; i++) {
    await time.advance(9 * MIN);
    t.is((await skein.debounce(kitChild, 2 + i, opts)).id, h.id);
  }
  // at 27 minutes the last call asked for 37: the burst's cap, 30 minutes after its first call, wins
  await time.advance(4 * MIN);
  t.is(await h.result(), 12);
});

test('schedules fire on the test clock: a dynamic one and one declared on its workflow', async (t) => {
  const start = new Date('2030-01-01T23:30:00Z');
  const time = clock({ start });
  const databaseUrl = await ownDatabase(t);
  const skein = await launch(t, { workflows: new URL('../fixtures/kit-scheduled.ts', import.meta.url), clock: time, databaseUrl });
  const second = await launch(t, { workflows, clock: time, databaseUrl });
  await second.createSchedule({ id: 'kit-nightly', workflow: 'kitChild', cron: '0 0 * * *', input: 5 });
  t.deepEqual((await second.listSchedules())[0]?.nextAt, new Date('2030-01-02T00:00:00Z'));
  await time.advance(HOUR);
  const runs = await skein.listWorkflows({ scheduleId: 'kit-nightly', loadOutput: true });
  t.is(runs.length, 1);
  t.is(await second.retrieve(runs[0]!.id).result(), 15);
  const ticks = await skein.listWorkflows({ name: 'kitMidnight', loadOutput: true });
  t.is(ticks.length, 1);
  t.is(await skein.retrieve(ticks[0]!.id).result(), '2030-01-02T00:00:00.000Z');
});

test('a Skein without a test clock keeps real time beside one that has it', async (t) => {
  const time = clock();
  const databaseUrl = await ownDatabase(t);
  const fast = await launch(t, { workflows, clock: time, databaseUrl });
  const real = await launch(t, { workflows, databaseUrl });
  const slow = await real.start(kitDay, undefined);
  const quick = await fast.start(kitDay, undefined);
  await time.advance(DAY);
  t.true((await quick.result()) >= DAY);
  t.is((await slow.status())?.status, 'PENDING');
});

test('clock options, advance and config.clock are checked', async (t) => {
  t.throws(() => clock({ start: 'tomorrow' as never }), { instanceOf: ConfigError, message: /clock options\.start must be a valid Date/ });
  t.throws(() => clock({ speed: 2 } as never), { instanceOf: ConfigError, message: /unknown option clock options\.speed/ });
  const time = clock();
  await t.throwsAsync(time.advance(-1), { instanceOf: ConfigError, message: /clock\.advance\(ms\)/ });
  await t.throwsAsync(time.advance(1, { settle: 5 } as never), { instanceOf: ConfigError, message: /unknown option clock\.advance options\.settle/ });
  await t.throwsAsync(
    Skein.launch({ workflows, databaseUrl: await testDatabase(), clock: { now: () => 0 } as never }),
    { instanceOf: ConfigError, message: /config\.clock must be a clock from skein\/testing/ },
  );
  await t.throwsAsync(time.advance(1.5), { instanceOf: ConfigError, message: /whole number of milliseconds/ });
  const before = Date.now();
  await time.advance(400 * DAY); // past Node's timer limit: a clock may move a year at once
  t.true(time.now() - before >= 400 * DAY);
});
