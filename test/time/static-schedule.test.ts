// Issue 15, acceptance: static schedules, declared on a workflow (`schedule`, `timezone`). Every
// process fires every tick and exactly one insert wins (ID `sched-<name>-<tick ISO>`), so three
// executors in three processes run each tick once, and none goes missing while they run. The
// winner of a tick runs it, so the pid each tick recorded is the process that inserted it.
import test from 'ava';
import { Client, ConfigError, Skein } from '../../runtime/index.ts';
import { launch, migrated, sql, unique, waitFor } from '../support/helpers.ts';
import { startChild } from '../support/time-children.ts';

const SECOND = 1000;

test.before(async () => {
  await migrated();
  // no key: a tick run twice would show as a second row
  await sql('CREATE TABLE ticks (id text, tick timestamptz, started_at timestamptz, pid int)');
  await sql('CREATE TABLE zoned_ticks (id text, name text, tick timestamptz)');
});

const iso = (ms: number) => new Date(ms).toISOString();

test('ACCEPTANCE: a per-second static schedule on 3 processes runs each tick once, none missing', async (t) => {
  t.timeout(300_000);
  const kids = await Promise.all([0, 1, 2].map(() => startChild(t, 'time-static.ts')));
  t.is(new Set(kids.map((k) => k.ready.pid)).size, 3);
  // all three up from here
  const allUp = Math.max(...kids.map((k) => k.ready.launched));
  await waitFor(
    async () => ((await sql<{ m: Date | null }>('SELECT max(tick) AS m FROM ticks'))[0]!.m?.getTime() ?? 0) >= allUp + 6 * SECOND,
    120_000,
    'a tick 6 s after the last launch',
  );
  const stopping = await Promise.all(kids.map((k) => k.stop()));
  // all three up until here
  const firstDown = Math.min(...stopping);

  const rows = (await sql<{ id: string; tick: Date; pid: number }>('SELECT id, tick, pid FROM ticks ORDER BY tick')).map((r) => ({
    ...r,
    at: r.tick.getTime(),
  }));
  t.true(rows.length >= 7, `${rows.length} ticks recorded`);
  // once each: no tick recorded twice, each under its deterministic ID
  const counts = new Map<number, number>();
  for (const r of rows) counts.set(r.at, (counts.get(r.at) ?? 0) + 1);
  t.deepEqual([...counts].filter(([, n]) => n > 1).map(([at, n]) => `${iso(at)} x${n}`), [], 'ticks run more than once');
  t.deepEqual(rows.filter((r) => r.id !== `sched-everySecond-${iso(r.at)}`).map((r) => r.id), []);
  t.deepEqual(rows.filter((r) => r.at % SECOND !== 0).map((r) => iso(r.at)), [], 'ticks on whole seconds');

  // none missing while all three ran (the edge seconds aside)
  const ran = new Set(counts.keys());
  const expected: number[] = [];
  for (let s = Math.ceil((allUp + SECOND) / SECOND) * SECOND; s <= firstDown - SECOND; s += SECOND) expected.push(s);
  t.true(expected.length >= 5, `${expected.length} seconds between ${iso(allUp)} and ${iso(firstDown)}`);
  t.deepEqual(expected.filter((s) => !ran.has(s)).map(iso), [], 'ticks missing while all three processes ran');

  // a process runs no tick from before its launch; the ticks' runs came from these three processes
  const byPid = new Map(kids.map((k) => [k.ready.pid, k]));
  t.deepEqual(rows.filter((r) => !byPid.has(r.pid)).map((r) => `${r.id} by pid ${r.pid}`), []);
  t.deepEqual(
    rows.filter((r) => r.at <= byPid.get(r.pid)!.ready.launching).map((r) => `${r.id} by pid ${r.pid}, launched ${iso(byPid.get(r.pid)!.ready.launching)}`),
    [],
    'ticks from before the launch of the process that ran them',
  );

  // the runs, as the API lists them: one per recorded tick, SUCCESS, with the workflow's name as scheduleId
  const client = await Client.connect({ databaseUrl: process.env.SKEIN_TEST_DB! });
  t.teardown(() => client.close());
  const listed = await client.listWorkflows({ scheduleId: 'everySecond', loadOutput: false });
  const recorded = new Set(rows.map((r) => r.id));
  t.deepEqual(listed.filter((s) => recorded.has(s.id) && s.status !== 'SUCCESS').map((s) => `${s.id}: ${s.status}`), []);
  t.deepEqual([...recorded].filter((id) => !listed.some((s) => s.id === id)), [], 'every recorded tick is listed by scheduleId');
  t.true(listed.every((s) => s.name === 'everySecond' && s.scheduleId === 'everySecond'));
  t.true(listed.every((s) => s.input instanceof Date && `sched-everySecond-${(s.input as Date).toISOString()}` === s.id), 'input is the tick');
  const notRun = listed.filter((s) => !recorded.has(s.id)).map((s) => `${s.id}: ${s.status}`);
  const share = [...byPid].map(([pid, k]) => `${k.executorId} (pid ${pid}): ${rows.filter((r) => r.pid === pid).length}`);
  t.log(`${rows.length} ticks ${iso(rows[0]!.at)} .. ${iso(rows.at(-1)!.at)}; all up ${iso(allUp)} .. ${iso(firstDown)}; ran by ${share.join(', ')}`);
  if (notRun.length > 0) t.log(`inserted, not run by the end (at the shutdown edge): ${notRun.join(', ')}`);
});

/** The hours of `zone`'s clock at `ms` and an hour later, as a cron hour field. */
function hoursIn(zone: string, ms: number): string {
  const hour = new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', hourCycle: 'h23' });
  return [...new Set([ms, ms + 3600 * SECOND].map((t) => Number(hour.format(t))))].join(',');
}

test('a static schedule fires at the hours of its time zone, not of UTC', async (t) => {
  const now = Date.now();
  // read by the module when this launch imports it (test/fixtures/time-zoned.ts)
  process.env.SKEIN_TEST_ZONE_HOURS = hoursIn('Asia/Kathmandu', now);
  process.env.SKEIN_TEST_UTC_HOURS = hoursIn('UTC', now);
  const launched = Date.now();
  await launch(t, { workflows: new URL('../fixtures/time-zoned.ts', import.meta.url), appVersion: unique('v') });
  await waitFor(
    async () => (await sql('SELECT 1 FROM zoned_ticks WHERE name = $1', ['inZone'])).length >= 3,
    60_000,
    `three ticks of inZone (hours ${process.env.SKEIN_TEST_ZONE_HOURS} in Asia/Kathmandu)`,
  );
  const rows = await sql<{ id: string; name: string; tick: Date }>('SELECT id, name, tick FROM zoned_ticks ORDER BY tick');
  // the same second is never an hour of both: UTC's hours are not Kathmandu's
  t.deepEqual(rows.filter((r) => r.name !== 'inZone').map((r) => r.id), [], `utcHours (hours ${process.env.SKEIN_TEST_UTC_HOURS}) fired`);
  t.true(rows.every((r) => r.tick.getTime() > launched && r.id === `sched-inZone-${r.tick.toISOString()}`));
  t.log(`inZone at hours ${process.env.SKEIN_TEST_ZONE_HOURS} (Kathmandu) ran ${rows.length} ticks; UTC hours ${process.env.SKEIN_TEST_UTC_HOURS}`);
});

test('a static schedule with a bad time zone: a ConfigError at launch naming the workflow and the zone', async (t) => {
  const err = await t.throwsAsync(
    Skein.launch({ workflows: new URL('../fixtures/time-bad-zone.ts', import.meta.url), databaseUrl: 'postgres://unused' }),
    { instanceOf: ConfigError },
  );
  t.true(err!.message.includes("'badZone'"), err!.message);
  t.true(err!.message.includes('Mars/Olympus_Mons'), err!.message);
  t.regex(err!.message, /timezone|time zone/);
});

test('a static schedule with a bad cron: a ConfigError at launch naming the workflow and the expression', async (t) => {
  const err = await t.throwsAsync(
    Skein.launch({ workflows: new URL('../fixtures/time-bad-cron.ts', import.meta.url), databaseUrl: 'postgres://unused' }),
    { instanceOf: ConfigError },
  );
  t.true(err!.message.includes("'badCron'"), err!.message);
  t.true(err!.message.includes('0 61 9 * * *'), err!.message);
  t.regex(err!.message, /schedule/);
});
