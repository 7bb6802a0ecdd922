// Issue 15: delayed starts (StartOptions.delayMs / startAt). A delayed workflow is ENQUEUED with
// its start time, and starts not before it by the database's clock: every "not before" here is
// read from Postgres (time_runs.started_at, written by the step with clock_timestamp(), against
// the row's start_at), never from a wall-clock bound that a loaded machine could break.
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { Client, ConfigError, WorkflowCancelledError } from '../../runtime/index.ts';
import { counted, delaysChild, runsKey, stamped } from '../fixtures/time-counted.ts';
import type { DelayChildMessage } from '../fixtures/time-delay-child.ts';
import { count } from '../support/counters.ts';
import { createTestDatabase, launch, messageFrom, migrated, spawnFixture, sql, testDatabase, unique, waitFor, within } from '../support/helpers.ts';

const workflows = new URL('../fixtures/time-counted.ts', import.meta.url);

/**
 * A Skein of its own app version: every Skein serves the internal queue, where a delayed start
 * without a queue waits, so without it one test's delayed workflow could be claimed by the
 * Skein of another test of this file, which may be shutting down.
 */
const ownVersion = () => ({ workflows, appVersion: unique('v'), threads: 1 });

/**
 * Long enough that the checks made right after a start come before the due time: the launches
 * of this file's other tests (worker threads compiling the fixtures) can stall this process's
 * event loop for seconds.
 */
const DELAY_MS = 15_000;

test.before(async () => {
  // skein's tables exist before the first Skein or child launches
  await migrated();
  await sql('CREATE TABLE IF NOT EXISTS time_runs (id text PRIMARY KEY, tag text, input text, started_at timestamptz)');
});

/** The database's clock now. */
async function dbNow(): Promise<Date> {
  return (await sql<{ now: Date }>('SELECT clock_timestamp() AS now'))[0]!.now;
}

interface Timing {
  status: string;
  /** the row's start time is still ahead by the database's clock */
  before_due: boolean;
  /** still held by its delay (not claimable) */
  delayed: boolean;
  /** start_at, in epoch ms (fractional) */
  start_ms: number;
  /** start_at minus the given time, in ms (fractional, from the database) */
  after_ms: number | null;
  /** the step's run began (time_runs) not before start_at; null: it did not run */
  ran_not_before: boolean | null;
  /** the claim (workflow_status.started_at) came not before start_at; null: not claimed */
  claimed_not_before: boolean | null;
  ran: boolean;
}

/** Where workflow `id` stands against its start time, all by the database's clock. */
async function timing(id: string, since?: Date): Promise<Timing> {
  const [row] = await sql<Timing>(
    `SELECT w.status, w.start_at > clock_timestamp() AS before_due, w.delayed_until IS NOT NULL AS delayed,
       extract(epoch FROM w.start_at)::float8 * 1000 AS start_ms,
       (extract(epoch FROM w.start_at - $2::timestamptz) * 1000)::float8 AS after_ms,
       r.started_at >= w.start_at AS ran_not_before, w.started_at >= w.start_at AS claimed_not_before,
       r.id IS NOT NULL AS ran
     FROM skein.workflow_status w LEFT JOIN time_runs r ON r.id = w.id WHERE w.id = $1`,
    [id, since ?? null],
  );
  if (!row) throw new Error(`no workflow ${id}`);
  return row;
}

/** What must hold of a delayed workflow right after its start: waiting, with its time ahead. */
function assertWaiting(t: import('ava').ExecutionContext, w: Timing, what: string): void {
  t.like(w, { status: 'ENQUEUED', delayed: true, before_due: true, ran: false }, `${what}: ENQUEUED, waiting for its time`);
}

/** What must hold once it ran: it began (and was claimed) not before its start time. */
function assertRanNotBefore(t: import('ava').ExecutionContext, w: Timing, what: string): void {
  t.is(w.status, 'SUCCESS', `${what}: SUCCESS`);
  t.true(w.ran, `${what}: its step ran`);
  t.true(w.ran_not_before, `${what}: its step began at or after start_at (database clock)`);
  t.true(w.claimed_not_before, `${what}: it was claimed at or after start_at (database clock)`);
}

test('skein.start with delayMs: ENQUEUED with startAt set, and starts not before it (database clock)', async (t) => {
  const skein = await launch(t, ownVersion());
  const tag = unique('tag');
  const before = await dbNow();
  const handle = await skein.start(stamped, { tag }, { delayMs: DELAY_MS });

  const status = await handle.status();
  const waiting = await timing(handle.id, before);
  assertWaiting(t, waiting, 'the delayed start');
  t.is(status?.status, 'ENQUEUED');
  t.true(status?.startAt instanceof Date, 'status().startAt is set');
  t.true(Math.abs(status!.startAt!.getTime() - waiting.start_ms) < 1, 'status().startAt is the recorded start time');
  t.true(waiting.after_ms! >= DELAY_MS, `start_at is ${waiting.after_ms} ms after the call began, at least delayMs`);
  // a unit slip (seconds, microseconds) would land far from it
  t.true(waiting.after_ms! < DELAY_MS + 10_000, `start_at is ${waiting.after_ms} ms after the call began`);

  t.deepEqual(await within(handle.result(), 60_000, 'the delayed workflow finishing'), { tag });
  assertRanNotBefore(t, await timing(handle.id), 'the delayed start');
});

test('skein.start with startAt: ENQUEUED until that time, startAt as given, and starts not before it', async (t) => {
  const skein = await launch(t, ownVersion());
  const tag = unique('tag');
  const startAt = new Date(Date.now() + DELAY_MS);
  const handle = await skein.start(stamped, { tag }, { startAt });

  const status = await handle.status();
  assertWaiting(t, await timing(handle.id), 'the start at a time');
  t.is(status?.startAt?.getTime(), startAt.getTime(), 'status().startAt is the time given');

  t.deepEqual(await within(handle.result(), 60_000, 'the workflow started at a time finishing'), { tag });
  const done = await timing(handle.id);
  assertRanNotBefore(t, done, 'the start at a time');
  const [ran] = await sql<{ ok: boolean }>('SELECT started_at >= $2::timestamptz AS ok FROM time_runs WHERE id = $1', [handle.id, startAt]);
  t.true(ran?.ok, 'its step began at or after the startAt given');
});

test('Client.enqueue with delayMs onto a queue: ENQUEUED with startAt, run by a Skein of that queue not before it', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { ...ownVersion(), queues: [{ name: queue }] });
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const tag = unique('tag');
  const before = await dbNow();
  const handle = await client.enqueue<{ tag: string }>(
    { workflow: 'stamped', queue, delayMs: DELAY_MS, appVersion: skein.appVersion },
    { tag },
  );

  const status = await handle.status();
  const waiting = await timing(handle.id, before);
  assertWaiting(t, waiting, 'the delayed enqueue');
  t.like(status, { status: 'ENQUEUED', queue });
  t.true(status?.startAt instanceof Date, 'status().startAt is set');
  t.true(waiting.after_ms! >= DELAY_MS, `start_at is ${waiting.after_ms} ms after the enqueue began`);

  t.deepEqual(await within(handle.result(), 60_000, 'the delayed enqueued workflow finishing'), { tag });
  assertRanNotBefore(t, await timing(handle.id), 'the delayed enqueue');
  t.is((await handle.status())?.queue, queue, 'it ran on its queue');
});

test('ctx.startWorkflow with delayMs: the child is ENQUEUED with startAt, and starts not before it', async (t) => {
  const skein = await launch(t, ownVersion());
  const tag = unique('tag');
  const before = await dbNow();
  const parent = await skein.start(delaysChild, { delayMs: DELAY_MS, tag });
  const childId = await within(parent.result(), 60_000, 'the parent finishing');

  const child = skein.retrieve<{ tag: string }>(childId);
  assertWaiting(t, await timing(childId, before), 'the delayed child');
  const status = await child.status();
  t.like(status, { status: 'ENQUEUED', name: 'stamped', parentId: parent.id });
  t.true(status?.startAt instanceof Date, 'status().startAt is set');
  // the child's delay counts from when its start was recorded, after the parent began
  t.true((await timing(childId, before)).after_ms! >= DELAY_MS, 'start_at is at least delayMs after the parent began');

  t.deepEqual(await within(child.result(), 60_000, 'the delayed child finishing'), { tag });
  assertRanNotBefore(t, await timing(childId), 'the delayed child');
});

test('a delayed workflow does not hold a queue of concurrency 1: one enqueued after it runs and finishes meanwhile', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { ...ownVersion(), queues: [{ name: queue, concurrency: 1 }] });
  // first in the queue's order, and due long after the other one has run
  const delayed = await skein.start(counted, { tag: unique('delayed') }, { queue, delayMs: 60_000 });
  t.teardown(() => skein.cancelWorkflow(delayed.id).catch(() => {}));
  const tag = unique('now');
  const now = await skein.start(counted, { tag }, { queue });

  t.deepEqual(await within(now.result(), 30_000, 'the immediate workflow finishing'), { tag });
  const waiting = await timing(delayed.id);
  assertWaiting(t, waiting, 'the delayed workflow, once the immediate one finished');
  t.is(await count(runsKey(delayed.id)), 0, 'the delayed workflow did not run');
  t.is(await count(runsKey(now.id)), 1);
});

test('a delayed workflow cancelled before its time ends CANCELLED and never runs, even after its time passed', async (t) => {
  const skein = await launch(t, ownVersion());
  const handle = await skein.start(stamped, { tag: unique('cancelled') }, { delayMs: DELAY_MS });
  await skein.cancelWorkflow(handle.id);
  const cancelled = await timing(handle.id);
  t.like(cancelled, { status: 'CANCELLED', before_due: true, ran: false }, 'cancelled before its time');
  await t.throwsAsync(handle.result(), { instanceOf: WorkflowCancelledError });

  // a later delayed start that runs shows the timers have gone past the cancelled one's time
  const later = await skein.start(stamped, { tag: unique('later') }, { delayMs: DELAY_MS + 1000 });
  await within(later.result(), 60_000, 'a later delayed workflow finishing');
  const [passed] = await sql<{ ok: boolean }>(
    `SELECT r.started_at > w.start_at AS ok FROM time_runs r, skein.workflow_status w WHERE r.id = $1 AND w.id = $2`,
    [later.id, handle.id],
  );
  t.true(passed?.ok, "the later workflow ran after the cancelled one's start time");
  const after = await timing(handle.id);
  t.like(after, { status: 'CANCELLED', ran: false, delayed: false }, 'still CANCELLED, and it never ran');
  t.is((await handle.status())?.status, 'CANCELLED');
});

test('resumeWorkflow of a delayed workflow runs it at once, well before its start time', async (t) => {
  const skein = await launch(t, ownVersion());
  const tag = unique('tag');
  // due in an hour: if the resume did not start it, nothing would within the test
  const handle = await skein.start(counted, { tag }, { delayMs: 3_600_000 });
  assertWaiting(t, await timing(handle.id), 'the delayed workflow');
  await skein.resumeWorkflow(handle.id);

  t.deepEqual(await within(handle.result(), 60_000, 'the resumed workflow finishing'), { tag });
  const done = await timing(handle.id);
  t.like(done, { status: 'SUCCESS', ran: true, ran_not_before: false }, 'it ran before its start time');
  t.is(await count(runsKey(handle.id)), 1, 'it ran once');
});

test('delayMs with startAt is a ConfigError that writes nothing; a startAt in the past runs at once', async (t) => {
  const skein = await launch(t, ownVersion());
  const id = unique('wf');
  const err = await t.throwsAsync(skein.start(stamped, { tag: 'x' }, { id, delayMs: 1000, startAt: new Date(Date.now() + 1000) }), {
    instanceOf: ConfigError,
  });
  t.regex(err!.message, /delayMs/);
  t.regex(err!.message, /startAt/);
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [id]), []);

  const tag = unique('past');
  const startAt = new Date(Date.now() - 60_000);
  const past = await skein.start(stamped, { tag }, { startAt });
  t.deepEqual(await within(past.result(), 60_000, 'the workflow with a past startAt finishing'), { tag });
  t.like(await timing(past.id), { status: 'SUCCESS', ran: true, ran_not_before: true });
});

test('a startAt just ahead of the clock runs without waiting for a safety poll', async (t) => {
  // A database of its own: no other test's wake-ups, and no safety poll within the test, so
  // only the wake-ups of the start itself can run the workflow. A startAt 1-2 ms ahead of this
  // process's clock has often passed by the database's clock when the row is written (about a
  // third of such starts on an idle machine): such a start must still wake its queue.
  const databaseUrl = await createTestDatabase();
  const skein = await launch(t, { ...ownVersion(), databaseUrl, safetyPollMs: 3_600_000 });
  for (let i = 0; i < 30; i++) {
    const ahead = 1 + (i % 2);
    const handle = await skein.start(stamped, { tag: unique(`near-${i}`) }, { startAt: new Date(Date.now() + ahead) });
    const ran = await handle.result({ timeoutMs: 30_000 }).then(
      () => true,
      () => false,
    );
    if (!ran) {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      const { rows } = await client.query(
        'SELECT status, queue, start_at, delayed_until, created_at FROM skein.workflow_status WHERE id = $1',
        [handle.id],
      );
      await client.end();
      t.log(`start ${i} (startAt ${ahead} ms ahead) was left waiting:`, rows[0]);
    }
    t.true(ran, `start ${i} (startAt ${ahead} ms ahead) ran within 30 s`);
    if (!ran) return;
  }
});

// Serial (ava runs serial tests before the concurrent ones): not under the launches of this
// file's other tests, so the relaunched process usually comes up before the workflow is due.
test.serial('ACCEPTANCE: a delayed start survives SIGKILL and a relaunch, and runs once, not before its time', async (t) => {
  t.timeout(180_000);
  const databaseUrl = await testDatabase();
  // the relaunch is the same deployment starting again: same executor ID, same version
  const executorId = unique('exec');
  const appVersion = unique('v');
  const id = unique('wf');
  const tag = unique('tag');
  // long enough that the relaunched process is usually up before it is due, which is when
  // starting early could happen (launch recovery, a timer misread); a loaded machine may boot it
  // later, and then the run checks that the delayed start survived, run at the next launch
  const delayMs = 20_000;

  const live = new Set<ChildProcess>();
  t.teardown(() => live.forEach((child) => child.kill('SIGKILL')));
  const spawn = (mode: string, args: object = {}) => {
    const child = spawnFixture('time-delay-child.ts', [databaseUrl, executorId, appVersion, mode, JSON.stringify(args)]);
    live.add(child);
    const exited = once(child, 'exit').finally(() => live.delete(child));
    exited.catch(() => {});
    return { child, exited };
  };

  const first = spawn('delay', { id, delayMs, tag });
  const said = await messageFrom<DelayChildMessage>(first.child, "'started'", 120_000);
  first.child.kill('SIGKILL');
  await first.exited;
  t.deepEqual(said, { kind: 'started', id });
  const killed = await timing(id);
  assertWaiting(t, killed, 'after the SIGKILL');
  t.is((await sql('SELECT executor_id FROM skein.workflow_status WHERE id = $1', [id]))[0]?.executor_id, executorId);

  const second = spawn('serve');
  t.deepEqual(await messageFrom<DelayChildMessage>(second.child, "'ready'", 120_000), { kind: 'ready' });
  const relaunched = await timing(id);
  if (relaunched.before_due) {
    t.like(relaunched, { status: 'ENQUEUED', delayed: true, ran: false }, 'the relaunch did not start it early');
  } else {
    t.log('the relaunched process came up after the workflow was due: its launch released it');
  }

  let seen = relaunched.status;
  await waitFor(
    async () => {
      if (second.child.exitCode !== null || second.child.signalCode !== null) throw new Error('the relaunched process exited');
      return (seen = (await timing(id)).status) === 'SUCCESS';
    },
    60_000,
    () => `the delayed workflow finishing in the relaunched process (status ${seen})`,
  );
  const done = await timing(id);
  assertRanNotBefore(t, done, 'after SIGKILL and relaunch');
  t.is(await count(runsKey(id)), 1, 'its step ran exactly once');
  const [row] = await sql<{ attempts: number; executor_id: string; input: string }>(
    'SELECT w.attempts, w.executor_id, r.input FROM skein.workflow_status w JOIN time_runs r USING (id) WHERE w.id = $1',
    [id],
  );
  t.is(row?.attempts, 1, 'claimed once');
  t.is(row?.executor_id, executorId);
  t.deepEqual(JSON.parse(row!.input), { tag });
});
