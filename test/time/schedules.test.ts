// Issue 15, acceptance: dynamic schedules, stored in Postgres. The test process holds only a
// Client (and, in one test, a Skein that lacks the workflow): the workflows run in child
// processes (test/fixtures/time-child.ts with the time.ts module), so a schedule made here fires
// in another process that knows the workflow. Ticks are judged by their tick time (in the run's
// ID), never by when they ran. A run's step is counted by a trigger on time_runs (time_attempts,
// counted even when the insert changes nothing), so a tick run twice would show.
import test from 'ava';
import { parseCron, type Cron } from '../../common/cron.ts';
import { Client, ConfigError, ConflictError, SkeinError } from '../../runtime/index.ts';
import { MAX_SCHEDULE_ID_LENGTH } from '../../runtime/schedules.ts';
import { dueTicks, MISSED_AFTER_MS } from '../../runtime/time.ts';
import { launch, migrated, sql, unique, waitFor, within } from '../support/helpers.ts';
import { startChild, type TimeChild } from '../support/time-children.ts';

/** A queue the children serve, for schedules that name one. */
const QUEUE = 'sched-q';
const SECOND = 1000;

let client: Client;
let shared: TimeChild | undefined;
/** the executors of every child process of this file */
const children = new Set<string>();

test.before(async (t) => {
  const databaseUrl = await migrated();
  await sql('CREATE TABLE time_runs (id text PRIMARY KEY, tag text, input text, started_at timestamptz)');
  await sql('CREATE TABLE time_attempts (id text PRIMARY KEY, n int NOT NULL)');
  await sql(`CREATE FUNCTION time_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO time_attempts (id, n) VALUES (NEW.id, 1) ON CONFLICT (id) DO UPDATE SET n = time_attempts.n + 1; RETURN NEW; END $$`);
  await sql('CREATE TRIGGER time_runs_attempt BEFORE INSERT ON time_runs FOR EACH ROW EXECUTE FUNCTION time_attempt()');
  // a teardown registered in a hook runs when the hook ends: this child is killed in after.always
  const keep = { teardown: () => {} } as unknown as Parameters<typeof startChild>[0];
  shared = await startChild(keep, 'time.ts', { queues: [{ name: QUEUE }] });
  children.add(shared.executorId);
  client = await Client.connect({ databaseUrl });
  t.log(`child ${shared.executorId} (pid ${shared.ready.pid}) runs the workflows`);
});

test.after.always(async () => {
  await client?.close();
  shared?.process.kill('SIGKILL');
});

interface Run {
  id: string;
  tick: number;
  status: string;
  executor_id: string;
  queue: string | null;
  attempts: number;
  completed_at: Date | null;
}

/** The runs of schedule `id` (trigger and backfill runs too), by tick time, from their IDs. */
async function runsOf(id: string): Promise<Run[]> {
  const rows = await sql<Omit<Run, 'tick'>>(
    'SELECT id, status, executor_id, queue, attempts, completed_at FROM skein.workflow_status WHERE schedule_id = $1',
    [id],
  );
  return rows.map((r) => ({ ...r, tick: tickOf(id, r.id) })).sort((a, b) => a.tick - b.tick);
}

/**
 * The tick time in a dynamic schedule's run ID: `schedule-<id>-<tick ISO>`, and for a manual
 * trigger the time of the trigger followed by `-trigger-<uuid>`.
 */
function tickOf(scheduleId: string, runId: string): number {
  const prefix = `schedule-${scheduleId}-`;
  if (!runId.startsWith(prefix)) throw new Error(`run ID ${runId} is not of the form ${prefix}<tick ISO>`);
  const iso = runId.slice(prefix.length).replace(/-trigger-[0-9a-f-]{36}$/, '');
  const tick = new Date(iso);
  if (Number.isNaN(tick.getTime()) || tick.toISOString() !== iso) throw new Error(`run ID ${runId} does not end in an ISO instant`);
  return tick.getTime();
}

/** How many times each run's step ran (0: never). */
async function stepRuns(ids: string[]): Promise<number[]> {
  const rows = await sql<{ id: string; n: number }>('SELECT id, n FROM time_attempts WHERE id = ANY($1::text[])', [ids]);
  const n = new Map(rows.map((r) => [r.id, r.n]));
  return ids.map((id) => n.get(id) ?? 0);
}

const iso = (ms: number) => new Date(ms).toISOString();
const seconds = (from: number, to: number) => Array.from({ length: (to - from) / SECOND + 1 }, (_, i) => from + i * SECOND);

/**
 * Waits until a per-second control schedule has run a tick at or after `at`: the children's
 * schedule loops were alive and firing past that time, so a schedule that should not fire had
 * every chance to (a plain sleep would prove nothing on a machine too loaded to fire anything).
 */
async function firedPast(control: string, at: number, what: string): Promise<void> {
  await waitFor(async () => (await runsOf(control)).some((r) => r.tick >= at), 60_000, `${what}: the control schedule running a tick at or after ${iso(at)}`);
}

test('ACCEPTANCE: a schedule created by a Client fires in another process; pause, resume and delete hold by tick time', async (t) => {
  t.timeout(240_000);
  const id = unique('s');
  const control = unique('control');
  await client.createSchedule({ id: control, workflow: 'stamped', cron: '* * * * * *' });
  t.teardown(() => client.deleteSchedule(control).catch(() => {}));

  const created = Date.now();
  await client.createSchedule({ id, workflow: 'stamped', cron: '* * * * * *' });
  const listed = (await client.listSchedules()).find((s) => s.id === id);
  t.like(listed, { id, workflow: 'stamped', cron: '* * * * * *', timezone: 'UTC', paused: false });
  t.false(listed !== undefined && 'queue' in listed, 'no queue');
  t.true(listed!.nextAt.getTime() > created && listed!.nextAt.getTime() % SECOND === 0, `nextAt ${listed!.nextAt.toISOString()}`);

  // runs appear, each a whole second after the creation, one a second, run by a child
  await waitFor(async () => (await runsOf(id)).filter((r) => r.status === 'SUCCESS').length >= 3, 60_000, 'three runs of the schedule');
  let runs = await runsOf(id);
  t.true(runs[0]!.tick > created, `first tick ${iso(runs[0]!.tick)} after the creation at ${iso(created)}`);
  t.deepEqual(runs.map((r) => r.tick), seconds(runs[0]!.tick, runs.at(-1)!.tick), 'one run per second, none missing');
  t.deepEqual(runs.filter((r) => !children.has(r.executor_id)).map((r) => `${r.id} by ${r.executor_id}`), []);
  t.deepEqual(runs.filter((r) => r.queue !== null).map((r) => r.id), [], 'runs of a schedule without a queue are not queued');
  // the client sees them (more may start meanwhile), with their schedule and their tick as input
  const seen = await client.listWorkflows({ scheduleId: id });
  const seenIds = new Set(seen.map((s) => s.id));
  const later = new Set((await runsOf(id)).map((r) => r.id));
  t.deepEqual(runs.filter((r) => !seenIds.has(r.id)).map((r) => r.id), [], 'listWorkflows({ scheduleId }) finds every run');
  t.deepEqual([...seenIds].filter((s) => !later.has(s)), [], 'and only runs of the schedule');
  for (const s of seen.filter((s) => s.status === 'SUCCESS')) {
    t.is(s.scheduleId, id);
    t.is(s.name, 'stamped');
    t.deepEqual(s.input, new Date(tickOf(id, s.id)));
    t.deepEqual(s.output, new Date(tickOf(id, s.id)));
  }
  t.true((await client.listSchedules()).find((s) => s.id === id)!.nextAt.getTime() > runs.at(-1)!.tick, 'nextAt moved past the ticks run');

  // pause: no tick later than the pause (plus one in flight) runs
  await client.pauseSchedule(id);
  const paused = Date.now();
  const whilePaused = (await client.listSchedules()).find((s) => s.id === id)!;
  t.true(whilePaused.paused);
  await firedPast(control, paused + 3 * SECOND, 'after the pause');
  runs = await runsOf(id);
  t.deepEqual(runs.filter((r) => r.tick > paused + SECOND).map((r) => r.id), [], 'ticks after the pause');
  const stillPaused = (await client.listSchedules()).find((s) => s.id === id)!;
  t.true(stillPaused.paused);
  // a round in flight at the pause may move it once, not on and on
  t.true(stillPaused.nextAt.getTime() <= paused + 2 * SECOND, `nextAt ${stillPaused.nextAt.toISOString()} stays put while paused`);

  // resume: from the next tick on; the ticks missed while paused are not run
  const resuming = Date.now();
  await client.resumeSchedule(id);
  const resumed = (await client.listSchedules()).find((s) => s.id === id)!;
  t.false(resumed.paused);
  t.true(resumed.nextAt.getTime() > resuming, `nextAt ${resumed.nextAt.toISOString()} after the resume at ${iso(resuming)}`);
  await waitFor(async () => (await runsOf(id)).filter((r) => r.tick > resuming).length >= 2, 60_000, 'two runs after the resume');
  runs = await runsOf(id);
  t.deepEqual(runs.filter((r) => r.tick > paused + SECOND && r.tick <= resuming).map((r) => r.id), [], 'ticks missed while paused');

  // delete: no tick later than the delete (plus one in flight) runs; the runs stay
  await client.deleteSchedule(id);
  const deleted = Date.now();
  t.false((await client.listSchedules()).some((s) => s.id === id));
  await firedPast(control, deleted + 3 * SECOND, 'after the delete');
  runs = await runsOf(id);
  t.deepEqual(runs.filter((r) => r.tick > deleted + SECOND).map((r) => r.id), [], 'ticks after the delete');
  await waitFor(async () => (await runsOf(id)).every((r) => r.status === 'SUCCESS'), 60_000, 'the runs in flight finishing');
  runs = await runsOf(id);
  t.deepEqual(await stepRuns(runs.map((r) => r.id)), runs.map(() => 1), 'each run ran its step once');
  t.is((await client.listWorkflows({ scheduleId: id })).length, runs.length);
  t.log(`${runs.length} runs, ticks ${iso(runs[0]!.tick)} .. ${iso(runs.at(-1)!.tick)}; paused ${iso(paused)}, resumed ${iso(resuming)}, deleted ${iso(deleted)}`);
});

test('triggerSchedule: one run now, paused or not, in the queue of the schedule or the internal one', async (t) => {
  const id = unique('s');
  // yearly: no tick of its own fires during the test
  await client.createSchedule({ id, workflow: 'stamped', cron: '0 0 1 1 *', input: { tag: id } });
  await client.pauseSchedule(id);

  const before = Date.now();
  const first = await client.triggerSchedule(id);
  const after = Date.now();
  t.deepEqual(await within(first.result(), 60_000, 'the triggered run finishing'), { tag: id });
  const tick = tickOf(id, first.id);
  t.true(tick >= before && tick <= after, `the run's tick ${iso(tick)} is the time of the trigger`);
  const status = (await first.status())!;
  t.like(status, { status: 'SUCCESS', scheduleId: id, name: 'stamped', input: { tag: id } });
  t.true(children.has(status.executorId), `run by ${status.executorId}`);
  t.truthy(status.queue, 'a triggered run is enqueued');

  const second = await client.triggerSchedule(id);
  t.not(second.id, first.id);
  await within(second.result(), 60_000, 'the second triggered run finishing');
  const runs = await runsOf(id);
  t.deepEqual(runs.map((r) => r.id).sort(), [first.id, second.id].sort(), 'one run per trigger, and nothing else');
  t.deepEqual(await stepRuns([first.id, second.id]), [1, 1]);
  t.deepEqual((await client.listWorkflows({ scheduleId: id })).map((s) => s.id).sort(), [first.id, second.id].sort());
  t.true((await client.listSchedules()).find((s) => s.id === id)!.paused, 'a trigger does not resume it');

  // without an input, the run's input is its tick; with a queue, the run goes there
  const queued = unique('s');
  await client.createSchedule({ id: queued, workflow: 'stamped', cron: '0 0 1 1 *', queue: QUEUE });
  const h = await client.triggerSchedule(queued);
  const output = await within(h.result(), 60_000, 'the queued triggered run finishing');
  t.deepEqual(output, new Date(tickOf(queued, h.id)));
  t.like(await h.status(), { status: 'SUCCESS', queue: QUEUE, scheduleId: queued });
  await client.deleteSchedule(id);
  await client.deleteSchedule(queued);
});

test('a schedule with a queue: its runs are enqueued there and dequeued by a process serving it', async (t) => {
  const id = unique('s');
  await client.createSchedule({ id, workflow: 'stamped', cron: '* * * * * *', queue: QUEUE });
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  t.like((await client.listSchedules()).find((s) => s.id === id), { queue: QUEUE, paused: false });
  await waitFor(async () => (await runsOf(id)).filter((r) => r.status === 'SUCCESS').length >= 2, 60_000, 'two runs of the queued schedule');
  const runs = (await runsOf(id)).filter((r) => r.status === 'SUCCESS');
  t.deepEqual(runs.filter((r) => r.queue !== QUEUE).map((r) => `${r.id} in ${r.queue}`), []);
  t.deepEqual(runs.filter((r) => !children.has(r.executor_id)).map((r) => r.id), []);
});

test('ACCEPTANCE: backfill runs each tick of a past range once; an overlapping backfill repeats none', async (t) => {
  const id = unique('s');
  await client.createSchedule({ id, workflow: 'stamped', cron: '* * * * * *', input: { tag: id } });
  // paused: only the backfills run
  await client.pauseSchedule(id);
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  const t0 = Math.floor(Date.now() / SECOND) * SECOND - 3600 * SECOND;

  const first = await client.backfillSchedule(id, new Date(t0), new Date(t0 + 4 * SECOND));
  t.deepEqual(first.map((h) => h.id), seconds(t0, t0 + 4 * SECOND).map((s) => `schedule-${id}-${iso(s)}`), 'both ends included');
  await within(Promise.all(first.map((h) => h.result())), 60_000, 'the first backfill finishing');
  const done = new Map((await runsOf(id)).filter((r) => r.tick < t0 + 1800 * SECOND).map((r) => [r.id, r.completed_at?.getTime()]));
  t.is(done.size, 5);

  // from 1.5 s to 7 s: the tick at 1 s is before it, those at 2..4 s ran already
  const second = await client.backfillSchedule(id, new Date(t0 + 1500), new Date(t0 + 7 * SECOND));
  t.deepEqual(second.map((h) => h.id), seconds(t0 + 2 * SECOND, t0 + 7 * SECOND).map((s) => `schedule-${id}-${iso(s)}`));
  await within(Promise.all(second.map((h) => h.result())), 60_000, 'the second backfill finishing');

  // (a live tick may have fired before the pause landed: only the hour-old ones are the backfills')
  const runs = (await runsOf(id)).filter((r) => r.tick < t0 + 1800 * SECOND);
  t.deepEqual(runs.map((r) => r.tick), seconds(t0, t0 + 7 * SECOND), 'each tick of the two ranges, once');
  t.deepEqual(runs.filter((r) => r.status !== 'SUCCESS' || r.attempts !== 1).map((r) => `${r.id}: ${r.status} x${r.attempts}`), []);
  t.deepEqual(await stepRuns(runs.map((r) => r.id)), runs.map(() => 1), 'no tick ran twice');
  for (const [runId, completed] of done) {
    t.is(runs.find((r) => r.id === runId)!.completed_at?.getTime(), completed, `${runId} untouched by the second backfill`);
  }
  const listed = (await client.listWorkflows({ scheduleId: id })).filter((s) => tickOf(id, s.id) < t0 + 1800 * SECOND);
  t.is(listed.length, 8);
  t.true(listed.every((s) => s.scheduleId === id && (s.input as { tag: string }).tag === id));
  t.true(listed.every((s) => children.has(s.executorId)));
});

test('a backfill over ticks the schedule already ran live runs only the others', async (t) => {
  const id = unique('s');
  const created = Date.now();
  await client.createSchedule({ id, workflow: 'stamped', cron: '* * * * * *' });
  await waitFor(async () => (await runsOf(id)).filter((r) => r.status === 'SUCCESS').length >= 3, 60_000, 'three live runs');
  await client.pauseSchedule(id);
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  // a tick fired as the pause landed finishes before the backfill
  await waitFor(async () => (await runsOf(id)).every((r) => r.status === 'SUCCESS'), 60_000, 'the live runs finishing');
  const live = await runsOf(id);
  const from = Math.floor(created / SECOND) * SECOND - 3 * SECOND;
  const to = live.at(-1)!.tick;

  const handles = await client.backfillSchedule(id, new Date(from), new Date(to));
  t.deepEqual(handles.map((h) => tickOf(id, h.id)), seconds(from, to));
  await within(Promise.all(handles.map((h) => h.result())), 60_000, 'the backfill finishing');
  // (a live tick in flight as the pause landed may come later than `to`)
  const runs = (await runsOf(id)).filter((r) => r.tick <= to);
  t.deepEqual(runs.map((r) => r.tick), seconds(from, to));
  t.deepEqual(await stepRuns(runs.map((r) => r.id)), runs.map(() => 1), 'no tick ran twice');
  for (const r of live) {
    t.is(runs.find((x) => x.id === r.id)!.completed_at?.getTime(), r.completed_at?.getTime(), `live run ${r.id} untouched`);
  }
});

test('backfill in a time zone: ticks at the local time, across a change of offset', async (t) => {
  const id = unique('s');
  // 09:30 in Paris: 08:30Z in winter time (CET), 07:30Z from 31 March 2024 (CEST)
  await client.createSchedule({ id, workflow: 'stamped', cron: '0 30 9 * * *', timezone: 'Europe/Paris' });
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  t.like((await client.listSchedules()).find((s) => s.id === id), { timezone: 'Europe/Paris', cron: '0 30 9 * * *' });
  const handles = await client.backfillSchedule(id, new Date('2024-03-29T00:00:00Z'), new Date('2024-04-02T23:59:59Z'));
  const expected = ['2024-03-29T08:30:00.000Z', '2024-03-30T08:30:00.000Z', '2024-03-31T07:30:00.000Z', '2024-04-01T07:30:00.000Z', '2024-04-02T07:30:00.000Z'];
  t.deepEqual(handles.map((h) => h.id), expected.map((e) => `schedule-${id}-${e}`));
  const outputs = await within(Promise.all(handles.map((h) => h.result())), 60_000, 'the backfill finishing');
  t.deepEqual(outputs, expected.map((e) => new Date(e)));
});

test('a schedule created by a Skein without the workflow fires in the process that has it', async (t) => {
  // this Skein (test/fixtures/workflows.ts) has no 'stamped'
  const skein = await launch(t);
  const id = unique('s');
  await skein.createSchedule({ id, workflow: 'stamped', cron: '* * * * * *' });
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  t.true((await skein.listSchedules()).some((s) => s.id === id));
  await waitFor(async () => (await runsOf(id)).filter((r) => r.status === 'SUCCESS').length >= 2, 60_000, 'two runs');
  const runs = await runsOf(id);
  t.deepEqual(runs.filter((r) => !children.has(r.executor_id)).map((r) => `${r.id} by ${r.executor_id}`), []);
  const h = await skein.triggerSchedule(id);
  await within(h.result(), 60_000, 'the triggered run finishing');
  t.true(children.has((await h.status())!.executorId));
  await skein.deleteSchedule(id);
  t.false((await client.listSchedules()).some((s) => s.id === id));
});

test('two processes with the workflow fire each tick of a schedule once', async (t) => {
  t.timeout(240_000);
  // known before it launches: from then on it may run the other tests' runs too
  const executorId = unique('child');
  children.add(executorId);
  const second = await startChild(t, 'time.ts', { queues: [{ name: QUEUE }] }, executorId);
  const id = unique('s');
  const created = Date.now();
  await client.createSchedule({ id, workflow: 'stamped', cron: '* * * * * *' });
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  await waitFor(async () => (await runsOf(id)).filter((r) => r.status === 'SUCCESS').length >= 5, 60_000, 'five runs');
  await client.deleteSchedule(id);
  await waitFor(async () => (await runsOf(id)).every((r) => r.status === 'SUCCESS'), 60_000, 'the runs in flight finishing');
  const runs = await runsOf(id);
  t.true(runs[0]!.tick > created);
  t.deepEqual(runs.map((r) => r.tick), seconds(runs[0]!.tick, runs.at(-1)!.tick), 'one run per second, none missing');
  t.deepEqual(await stepRuns(runs.map((r) => r.id)), runs.map(() => 1), 'no tick ran twice');
  const by = new Map<string, number>();
  for (const r of runs) by.set(r.executor_id, (by.get(r.executor_id) ?? 0) + 1);
  t.log(`runs by executor: ${JSON.stringify(Object.fromEntries(by))}`);
  // stopped, not killed: runs of other tests it took finish here rather than wait for a takeover
  await second.stop();
});

test('schedule errors: unknown ID, duplicate ID, bad cron, bad time zone, a backfill too large', async (t) => {
  const missing = unique('nope');
  const calls: [string, () => Promise<unknown>][] = [
    ['pauseSchedule', () => client.pauseSchedule(missing)],
    ['resumeSchedule', () => client.resumeSchedule(missing)],
    ['deleteSchedule', () => client.deleteSchedule(missing)],
    ['triggerSchedule', () => client.triggerSchedule(missing)],
    ['backfillSchedule', () => client.backfillSchedule(missing, new Date(0), new Date(1000))],
  ];
  for (const [what, call] of calls) {
    const err = await t.throwsAsync(call(), { instanceOf: SkeinError }, what);
    t.is(err!.name, 'SkeinError', what);
    t.true(err!.message.includes(missing), `${what}: ${err!.message}`);
  }

  const id = unique('s');
  await client.createSchedule({ id, workflow: 'stamped', cron: '0 0 1 1 *' });
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  const dup = await t.throwsAsync(client.createSchedule({ id, workflow: 'echo', cron: '* * * * * *' }), { instanceOf: ConflictError });
  t.true(dup!.message.includes(id), dup!.message);
  t.like((await client.listSchedules()).find((s) => s.id === id), { workflow: 'stamped', cron: '0 0 1 1 *' });

  const refused: string[] = [];
  for (const cron of ['61 * * * *', 'every minute', '* * * *', '* * * * * * *']) {
    const bad = unique('bad');
    refused.push(bad);
    const err = await t.throwsAsync(client.createSchedule({ id: bad, workflow: 'stamped', cron }), { instanceOf: ConfigError }, cron);
    t.true(err!.message.includes(cron), `names ${cron}: ${err!.message}`);
    t.regex(err!.message, /cron/);
  }
  for (const timezone of ['Mars/Olympus_Mons', 'UTC+25']) {
    const bad = unique('bad');
    refused.push(bad);
    const err = await t.throwsAsync(client.createSchedule({ id: bad, workflow: 'stamped', cron: '* * * * *', timezone }), {
      instanceOf: ConfigError,
    });
    t.true(err!.message.includes(timezone), `names ${timezone}: ${err!.message}`);
    t.regex(err!.message, /timezone|time zone/);
  }
  const ids = new Set((await client.listSchedules()).map((s) => s.id));
  t.deepEqual(refused.filter((r) => ids.has(r)), [], 'nothing stored for a refused schedule');

  // a per-second schedule over a year: refused, nothing enqueued
  const everySecond = unique('s');
  await client.createSchedule({ id: everySecond, workflow: 'stamped', cron: '* * * * * *' });
  await client.pauseSchedule(everySecond);
  t.teardown(() => client.deleteSchedule(everySecond).catch(() => {}));
  const huge = await t.throwsAsync(client.backfillSchedule(everySecond, new Date('2023-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z')), {
    instanceOf: SkeinError,
  });
  t.log(`huge backfill: ${huge!.name}: ${huge!.message}`);
  t.deepEqual((await runsOf(everySecond)).filter((r) => r.tick < Date.parse('2024-01-02T00:00:00Z')), []);
  const badDate = await t.throwsAsync(client.backfillSchedule(everySecond, new Date('nope'), new Date()), { instanceOf: SkeinError });
  t.regex(badDate!.message, /from/);
});

// Found while writing these tests (issue 15): a trigger's run ID was schedule-<id>-<now ISO>, to
// the millisecond, so two triggers in one millisecond got one ID, and the second started nothing
// and returned the first's handle (26 runs for 30 concurrent triggers).
test('every triggerSchedule call is a run of its own, also when calls land in the same millisecond', async (t) => {
  const id = unique('s');
  await client.createSchedule({ id, workflow: 'stamped', cron: '0 0 1 1 *', input: { tag: id } });
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  const handles = await Promise.all(Array.from({ length: 50 }, () => client.triggerSchedule(id)));
  await within(Promise.all(handles.map((h) => h.result())), 120_000, 'the triggered runs finishing');
  const ids = handles.map((h) => h.id);
  t.is(new Set(ids).size, 50, 'distinct runs for 50 triggers');
  t.is((await runsOf(id)).length, 50, 'runs of the schedule');
});

// Found while writing these tests (issue 15): createSchedule accepted an ID of up to 1,000
// characters (MAX_ID_LENGTH), its runs' IDs add to it (`schedule-`, the tick's ISO time, a
// trigger's suffix), and every call that takes a workflow ID refuses more than 1,000:
// triggerSchedule enqueued the run, then threw a ConfigError from retrieve(), and the run could
// not be retrieved or cancelled.
test('the longest schedule ID createSchedule accepts leaves its runs addressable; a longer one is refused', async (t) => {
  const tooLong = unique('s').padEnd(MAX_SCHEDULE_ID_LENGTH + 1, 'x');
  const refused = await t.throwsAsync(client.createSchedule({ id: tooLong, workflow: 'stamped', cron: '0 0 1 1 *' }), {
    instanceOf: ConfigError,
  });
  t.regex(refused!.message, /id/);
  t.false((await client.listSchedules()).some((s) => s.id === tooLong), 'nothing stored');

  const id = unique('s').padEnd(MAX_SCHEDULE_ID_LENGTH, 'x');
  await client.createSchedule({ id, workflow: 'stamped', cron: '0 0 1 1 *' });
  t.teardown(() => client.deleteSchedule(id).catch(() => {}));
  const triggered = await client.triggerSchedule(id);
  const [backfilled] = await client.backfillSchedule(id, new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'));
  for (const h of [triggered, backfilled!]) {
    await within(h.result(), 60_000, `run ${h.id.slice(-60)} finishing`);
    t.is((await client.retrieve(h.id).status())?.scheduleId, id);
    await client.cancelWorkflow(h.id); // a finished run: changes nothing, and is no error
  }
});

// Found while writing these tests (issue 15): dueTicks walked every tick from the schedule's next
// tick to now, one cron step at a time, to keep those of the last minute: a per-second schedule
// that no process fired for a week (all of them down, then one launches) cost 604,801 steps on
// the coordinator's thread in one synchronous loop (~22 s measured; a queued workflow's
// start->result on the process that fired it went from 41 ms to 36.9 s).
test('a per-second schedule a week behind: the catch-up takes a few cron steps, not a week of them', (t) => {
  const cron = parseCron('test schedule', '* * * * * *');
  let steps = 0;
  const counted: Cron = {
    expression: cron.expression,
    timezone: cron.timezone,
    next: (after) => (steps++, cron.next(after)),
    ticks: (from, to, limit) => cron.ticks(from, to, limit),
  };
  const now = Date.parse('2025-01-08T00:00:00Z');
  const { ticks, next } = dueTicks(counted, now - 7 * 86_400 * SECOND, now);
  // what runs: the ticks of the last MISSED_AFTER_MS, then the next one after now
  t.deepEqual(ticks.map((d) => d.getTime()), seconds(now - MISSED_AFTER_MS, now));
  t.is(next, now + SECOND);
  t.true(steps <= 1000, `${steps} cron steps to skip a week of missed ticks`);
});

test('a schedule whose stored cron no longer parses is paused, and the others keep firing', async (t) => {
  t.timeout(120_000);
  const broken = unique('s');
  const healthy = unique('s');
  await client.createSchedule({ id: broken, workflow: 'stamped', cron: '0 0 1 1 *' });
  await client.createSchedule({ id: healthy, workflow: 'stamped', cron: '* * * * * *' });
  t.teardown(() => Promise.all([broken, healthy].map((id) => client.deleteSchedule(id).catch(() => {}))));
  // edited by hand to nonsense, and due now
  await sql("UPDATE skein.schedules SET cron = 'every full moon', next_at = now() WHERE id = $1", [broken]);
  const edited = Date.now();
  await waitFor(async () => (await client.listSchedules()).find((s) => s.id === broken)?.paused === true, 60_000, 'the broken schedule paused');
  await waitFor(async () => (await runsOf(healthy)).some((r) => r.tick > edited + 2 * SECOND), 60_000, 'the healthy schedule firing on');
  t.deepEqual(await runsOf(broken), [], 'the broken schedule ran nothing');
  // it stays refused: resuming it cannot compute a next tick
  await t.throwsAsync(client.resumeSchedule(broken), { instanceOf: ConfigError, message: /every full moon/ });
});
