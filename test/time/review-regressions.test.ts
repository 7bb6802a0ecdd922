// Regressions of an adversarial review of the time features (issue 15): each was a bug proven
// with a script before its fix.
import test from 'ava';
import { ConfigError, SerializationError } from '../../runtime/index.ts';
import * as time from '../fixtures/time.ts';
import { launch, sql, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/time.ts', import.meta.url);
const staticModule = new URL('../fixtures/time-static.ts', import.meta.url);

/**
 * `n` CJK characters, 3 bytes each: 893 pass MAX_SCHEDULE_ID_LENGTH yet make a run ID too long
 * for its index entry (2,704 bytes); 1,000 (MAX_ID_LENGTH) do the same to a debounce key.
 */
const tooManyBytes = (n = 893) => Array.from({ length: n }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20000))).join('');

test.before(async () => {
  await sql('CREATE TABLE IF NOT EXISTS time_runs (id text PRIMARY KEY, tag text, input text, started_at timestamptz)');
  await sql('CREATE TABLE IF NOT EXISTS part_running (id text PRIMARY KEY, key text)');
  await sql('CREATE TABLE IF NOT EXISTS part_max (key text PRIMARY KEY, n int)');
  await sql('CREATE TABLE IF NOT EXISTS ticks (id text, tick timestamptz, started_at timestamptz, pid int)');
});

test.serial('a schedule whose runs the database refuses is paused, and holds up no other schedule', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const good = unique('good');
  const bad = tooManyBytes();
  await skein.createSchedule({ id: good, workflow: time.stamped, cron: '* * * * * *' });
  await skein.createSchedule({ id: bad, workflow: time.stamped, cron: '* * * * * *' });
  t.teardown(async () => {
    await skein.deleteSchedule(good).catch(() => {});
    await skein.deleteSchedule(bad).catch(() => {});
  });
  await waitFor(async () => (await skein.listSchedules()).find((s) => s.id === bad)?.paused === true, 30_000, 'the bad schedule paused');
  // the good one goes on tick by tick, not once per safety poll (10 s)
  const runs = async () => (await sql<{ n: number }>('SELECT count(*)::int AS n FROM skein.workflow_status WHERE schedule_id = $1', [good]))[0]!.n;
  const before = await runs();
  await waitFor(async () => (await runs()) >= before + 3, 30_000, 'three more runs of the good schedule');
  const [row] = await sql<{ behind: number }>('SELECT extract(epoch FROM clock_timestamp() - next_at)::float8 AS behind FROM skein.schedules WHERE id = $1', [good]);
  t.true(row!.behind < 5, `the good schedule's next tick is ${row!.behind} s behind`);
});

test.serial('a static schedule loses no tick to a short database outage', async (t) => {
  const skein = await launch(t, { workflows: staticModule, appVersion: unique('v') });
  await waitFor(async () => (await sql('SELECT 1 FROM ticks')).length > 0, 30_000, 'a first tick');
  // the run table away for 2.5 s: every insert of a tick fails meanwhile
  const [{ from }] = await sql<{ from: Date }>('SELECT clock_timestamp() AS from');
  await sql('ALTER TABLE skein.workflow_status RENAME TO workflow_status_away');
  await new Promise((r) => setTimeout(r, 2500));
  await sql('ALTER TABLE skein.workflow_status_away RENAME TO workflow_status');
  const [{ to }] = await sql<{ to: Date }>('SELECT clock_timestamp() AS to');
  const expected: string[] = [];
  for (let s = Math.ceil(from.getTime() / 1000) * 1000; s <= to.getTime(); s += 1000) expected.push(new Date(s).toISOString());
  await waitFor(
    async () => {
      const got = new Set((await sql<{ tick: Date }>('SELECT tick FROM ticks')).map((r) => r.tick.toISOString()));
      return expected.every((e) => got.has(e));
    },
    30_000,
    () => `the ticks of the outage (${expected.join(', ')}) running after it`,
  );
  const dup = await sql('SELECT tick FROM ticks GROUP BY tick HAVING count(*) > 1');
  t.deepEqual(dup, [], 'no tick ran twice');
  await skein.shutdown();
});

test('a backfill refuses a range reaching into the future, enqueuing nothing', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const id = unique('s');
  await skein.createSchedule({ id, workflow: time.stamped, cron: '0 0 * * * *' });
  t.teardown(() => skein.deleteSchedule(id).catch(() => {}));
  await skein.pauseSchedule(id);
  const err = await t.throwsAsync(skein.backfillSchedule(id, new Date(Date.now() - 3600_000), new Date(Date.now() + 3 * 3600_000)), {
    instanceOf: ConfigError,
  });
  t.regex(err!.message, /backfillSchedule to: .* is in the future/);
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE schedule_id = $1', [id]), []);
  await t.throwsAsync(skein.backfillSchedule(id, new Date('nope'), new Date()), { instanceOf: ConfigError, message: /backfillSchedule from must be a valid Date/ });
});

test('a startAt beyond what the database can hold is a ConfigError naming it; a debounce key too long for the index a SerializationError', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const id = unique('w');
  await t.throwsAsync(skein.start(time.stamped, {}, { id, startAt: new Date(-8.64e15) }), { instanceOf: ConfigError, message: /options\.startAt must be a Date from 1970/ });
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [id]), []);
  await t.throwsAsync(skein.debounce(time.stamped, {}, { key: tooManyBytes(1000), delayMs: 100 }), { instanceOf: SerializationError });
});

test('a fork of a partitioned workflow keeps its partition key, so it counts in its partition', async (t) => {
  const queue = unique('parts');
  const skein = await launch(t, { workflows, appVersion: unique('v'), queues: [{ name: queue, partitionConcurrency: 1 }] });
  const key = unique('k');
  const h = await skein.start(time.partitioned, { key, holdMs: 1 }, { queue, partitionKey: key });
  await h.result();
  const fork = await skein.forkWorkflow(h.id, { queue });
  t.is((await fork.status())?.partitionKey, key);
  t.is(await fork.result(), key);
});
