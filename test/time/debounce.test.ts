// Issue 15: Skein.debounce. Calls with one workflow and key form a burst that starts one
// workflow, with the last call's input, delayMs after the last call and never later than
// maxWaitMs after the first; every call of a burst returns the same ID. Times are read from the
// database's clock. Where a test needs its calls close together (a burst must not close between
// two of them), it measures that they were, and makes a fresh attempt when a stall of this
// loaded machine spread them out: the assertions always judge a run whose premise held.
import test, { type ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import pg from 'pg';
import { ConfigError, type Skein } from '../../runtime/index.ts';
import { counted, runsKey } from '../fixtures/time-counted.ts';
import type { DebounceCallRecord, DebounceOrder, DelayChildMessage } from '../fixtures/time-delay-child.ts';
import { count } from '../support/counters.ts';
import { createTestDatabase, launch, messageFrom, migrated, spawnFixture, sql, testDatabase, unique, within } from '../support/helpers.ts';

const workflows = new URL('../fixtures/time-counted.ts', import.meta.url);

/**
 * A Skein of its own app version: every Skein serves the internal queue, where a debounced
 * workflow without a queue waits, so without it one test's burst could be claimed by the Skein
 * of another test of this file, which may be shutting down.
 */
const ownVersion = () => ({ workflows, appVersion: unique('v'), threads: 1 });

/** Fresh attempts at a scenario whose calls a stall spread too far apart. */
const ATTEMPTS = 5;

test.before(async () => {
  await migrated();
  await sql('CREATE TABLE IF NOT EXISTS time_runs (id text PRIMARY KEY, tag text, input text, started_at timestamptz)');
});

type Input = { tag: string; n?: number; src?: string };
type Call = DebounceCallRecord;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function dbNow(): Promise<Date> {
  return (await sql<{ now: Date }>('SELECT clock_timestamp() AS now'))[0]!.now;
}

/**
 * `n` calls one after the other, `everyMs` apart, each with input { tag: key, n, src }.
 * `beforeLast` is called just before the last one.
 */
async function callSeries(
  skein: Skein,
  key: string,
  n: number,
  everyMs: number,
  opts: { delayMs: number; maxWaitMs?: number },
  src = 'a',
  beforeLast?: () => Promise<void>,
): Promise<Call[]> {
  const calls: Call[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) await sleep(everyMs);
    if (i === n - 1) await beforeLast?.();
    const start = Date.now();
    const handle = await skein.debounce(counted, { tag: key, n: i, src }, { key, ...opts });
    calls.push({ id: handle.id, n: i, start, end: Date.now() });
  }
  return calls;
}

/**
 * The widest span from one call's start to the next call's return. Below delayMs, no burst can
 * close between two of these calls: call i set the due time at least delayMs after it began (by
 * the database's clock, which is this host's), and call i+1 had joined before that time came.
 */
function widestGap(calls: Call[]): number {
  let worst = 0;
  for (let i = 1; i < calls.length; i++) worst = Math.max(worst, calls[i]!.end - calls[i - 1]!.start);
  return worst;
}

/** The runs of consecutive calls that returned the same ID. */
function burstsOf(calls: Call[]): { id: string; calls: Call[] }[] {
  const bursts: { id: string; calls: Call[] }[] = [];
  for (const call of calls) {
    const last = bursts.at(-1);
    if (last?.id === call.id) last.calls.push(call);
    else bursts.push({ id: call.id, calls: [call] });
  }
  return bursts;
}

/**
 * Runs `attempt` until its calls held together (widest gap below `delayMs`), at most ATTEMPTS
 * times; returns the run that held, or fails the test saying how far apart the calls were.
 */
async function heldTogether<R extends { calls: Call[] }>(
  t: ExecutionContext,
  delayMs: number,
  attempt: () => Promise<R>,
): Promise<R | undefined> {
  for (let i = 1; i <= ATTEMPTS; i++) {
    const run = await attempt();
    const gap = widestGap(run.calls);
    if (gap < delayMs) return run;
    t.log(`attempt ${i}: a stall spread two calls ${gap} ms apart (delayMs ${delayMs}); the burst may rightly have closed`);
  }
  t.fail(`in ${ATTEMPTS} attempts the calls never held within delayMs of each other: the machine is too loaded`);
  return undefined;
}

interface BurstRow {
  status: string;
  input: string | null;
  /** start_at minus created_at (the first call), ms */
  waited_ms: number;
  /** the step began at or after start_at; null: it has not run */
  ran_not_before: boolean | null;
}

async function burstRow(id: string): Promise<BurstRow> {
  const [row] = await sql<BurstRow>(
    `SELECT w.status, r.input, (extract(epoch FROM w.start_at - w.created_at) * 1000)::float8 AS waited_ms,
       r.started_at >= w.start_at AS ran_not_before
     FROM skein.workflow_status w LEFT JOIN time_runs r ON r.id = w.id WHERE w.id = $1`,
    [id],
  );
  if (!row) throw new Error(`no workflow ${id}`);
  return row;
}

/** The workflows (any status) whose input carries `tag`, by the public listing. */
async function workflowsTagged(skein: Skein, tag: string): Promise<string[]> {
  const all = await skein.listWorkflows({ name: 'counted', appVersion: skein.appVersion, loadInput: true });
  return all.filter((s) => (s.input as Input | undefined)?.tag === tag).map((s) => s.id);
}

// The acceptance tests are serial (ava runs serial tests before the concurrent ones): their calls
// must come close together, which the launches of this file's other tests would often prevent.
test.serial('ACCEPTANCE: 50 calls 20 ms apart with delayMs 300 start one workflow, with the last input; every call returns its ID', async (t) => {
  t.timeout(180_000);
  const skein = await launch(t, ownVersion());
  const run = await heldTogether(t, 300, async () => {
    const key = unique('key');
    let beforeLast: Date | undefined;
    const calls = await callSeries(skein, key, 50, 20, { delayMs: 300 }, 'a', async () => {
      beforeLast = await dbNow();
    });
    return { key, calls, beforeLast: beforeLast! };
  });
  if (!run) return;
  const { key, calls, beforeLast } = run;

  const ids = new Set(calls.map((c) => c.id));
  t.is(ids.size, 1, 'every call returned the same workflow ID');
  const id = calls[0]!.id;
  const last: Input = { tag: key, n: 49, src: 'a' };
  t.deepEqual(await within(skein.retrieve<Input>(id).result(), 60_000, 'the debounced workflow finishing'), last, "its result is the last call's input");
  const row = await burstRow(id);
  t.is(row.status, 'SUCCESS');
  t.deepEqual(JSON.parse(row.input!), last, "it ran with the last call's input");
  t.true(row.ran_not_before, 'it began not before its start time');
  t.is(await count(runsKey(id)), 1, 'it ran once');
  t.deepEqual(await sql<{ id: string }>('SELECT id FROM time_runs WHERE tag = $1', [key]), [{ id }], 'exactly one run for the key');
  t.deepEqual(await workflowsTagged(skein, key), [id], 'exactly one workflow for the key');
  const [late] = await sql<{ ok: boolean }>(
    `SELECT started_at >= $2::timestamptz + interval '300 milliseconds' AS ok FROM time_runs WHERE id = $1`,
    [id, beforeLast],
  );
  t.true(late?.ok, 'it began at least delayMs after the last call (database clock)');
});

test.serial('ACCEPTANCE: maxWaitMs caps the wait: calls every 50 ms for 2 s (delayMs 300, maxWaitMs 800) start a workflow per burst of at most 800 ms', async (t) => {
  t.timeout(180_000);
  const skein = await launch(t, ownVersion());
  const run = await heldTogether(t, 300, async () => {
    const key = unique('key');
    const calls = await callSeries(skein, key, 40, 50, { delayMs: 300, maxWaitMs: 800 });
    return { key, calls };
  });
  if (!run) return;
  const { key, calls } = run;
  const bursts = burstsOf(calls);
  t.is(new Set(calls.map((c) => c.id)).size, bursts.length, 'an ID, once another was returned, never came back: bursts are contiguous');
  t.true(bursts.length >= 2, `the calls, 2 s of them, formed ${bursts.length} bursts: the first workflow started while calls still came`);

  for (const [i, burst] of bursts.entries()) {
    const last = burst.calls.at(-1)!;
    const input: Input = { tag: key, n: last.n, src: 'a' };
    t.deepEqual(
      await within(skein.retrieve<Input>(burst.id).result(), 60_000, `burst ${i}'s workflow finishing`),
      input,
      `burst ${i}: its result is the input of its last call`,
    );
    const row = await burstRow(burst.id);
    t.true(row.ran_not_before, `burst ${i}: it began not before its start time`);
    t.true(row.waited_ms <= 800, `burst ${i}: due ${row.waited_ms} ms after its first call, within maxWaitMs (database clock)`);
    if (i < bursts.length - 1) {
      // calls kept coming less than delayMs apart: only maxWaitMs could close it, at exactly 800 ms
      t.true(Math.abs(row.waited_ms - 800) < 0.01, `burst ${i}: closed by maxWaitMs (due ${row.waited_ms} ms after its first call)`);
    }
    t.is(await count(runsKey(burst.id)), 1, `burst ${i}: its workflow ran once`);
  }
  const ran = await sql<{ id: string }>('SELECT id FROM time_runs WHERE tag = $1 ORDER BY id', [key]);
  t.deepEqual(ran.map((r) => r.id), bursts.map((b) => b.id).sort(), 'one run per burst, and no other');
});

test('a burst caps its first call too: delayMs 10000 with maxWaitMs 500 is due within 500 ms', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('key');
  const handle = await skein.debounce(counted, { tag: key }, { key, delayMs: 10_000, maxWaitMs: 500 });
  const row = await burstRow(handle.id);
  t.true(row.waited_ms <= 500, `due ${row.waited_ms} ms after its only call, beyond maxWaitMs 500 (database clock)`);
});

test("a call with a shorter delayMs brings the burst's start forward, without waiting for a safety poll", async (t) => {
  // A database of its own: no other test's wake-ups, and no safety poll within the test, so
  // only the calls' own wake-ups can move the timers.
  const databaseUrl = await createTestDatabase();
  const skein = await launch(t, { ...ownVersion(), databaseUrl, safetyPollMs: 3_600_000 });
  const key = unique('key');
  const first = await skein.debounce(counted, { tag: key, n: 0 }, { key, delayMs: 3_600_000 });
  // Once a delayed start due after the burst's first call has been released and run, the timers
  // have looked past it and wait for the next row due: the burst, in an hour. (Without this, the
  // second call could land before the timers' first look, which would then see it.)
  const marker = await skein.start(counted, { tag: unique('marker') }, { delayMs: 500 });
  await within(marker.result(), 60_000, 'a delayed start due before the burst finishing');
  const second = await skein.debounce(counted, { tag: key, n: 1 }, { key, delayMs: 200 });
  t.is(second.id, first.id, 'one burst');
  const result = await second.result({ timeoutMs: 30_000 }).catch(async (err) => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const { rows } = await client.query('SELECT status, start_at, delayed_until, created_at FROM skein.workflow_status WHERE id = $1', [second.id]);
    await client.end();
    t.log('the burst was left waiting:', rows[0], String(err));
    return null;
  });
  t.deepEqual(result, { tag: key, n: 1 }, 'it ran about 200 ms after the second call, with its input');
});

test('once a burst started its workflow, the next call opens a new burst, with a new ID', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('key');
  const first = await skein.debounce(counted, { tag: key, n: 0 }, { key, delayMs: 200 });
  t.deepEqual(await within(first.result(), 60_000, 'the first burst finishing'), { tag: key, n: 0 });
  const second = await skein.debounce(counted, { tag: key, n: 1 }, { key, delayMs: 200 });
  t.not(second.id, first.id);
  t.deepEqual(await within(second.result(), 60_000, 'the second burst finishing'), { tag: key, n: 1 });
  t.is(await count(runsKey(first.id)), 1);
  t.is(await count(runsKey(second.id)), 1);
  t.is((await burstRow(second.id)).ran_not_before, true);
});

test('cancelling a burst closes it: it never runs, and the next call opens a new one', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('key');
  const first = await skein.debounce(counted, { tag: key, n: 0 }, { key, delayMs: 3_600_000 });
  await skein.cancelWorkflow(first.id);
  t.is((await first.status())?.status, 'CANCELLED');
  const second = await skein.debounce(counted, { tag: key, n: 1 }, { key, delayMs: 200 });
  t.not(second.id, first.id, 'a new burst');
  t.deepEqual(await within(second.result(), 60_000, 'the new burst finishing'), { tag: key, n: 1 });
  t.is((await first.status())?.status, 'CANCELLED', 'the cancelled burst stays CANCELLED');
  t.is(await count(runsKey(first.id)), 0, 'the cancelled burst never ran');
});

test("resuming a burst runs it at once with its last call's input, and closes it", async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('key');
  const first = await skein.debounce(counted, { tag: key, n: 0 }, { key, delayMs: 3_600_000 });
  const second = await skein.debounce(counted, { tag: key, n: 1 }, { key, delayMs: 3_600_000 });
  t.is(second.id, first.id);
  await skein.resumeWorkflow(first.id);
  t.deepEqual(await within(first.result(), 60_000, 'the resumed burst finishing'), { tag: key, n: 1 });
  t.is((await burstRow(first.id)).ran_not_before, false, 'it ran before its start time');
  const third = await skein.debounce(counted, { tag: key, n: 2 }, { key, delayMs: 200 });
  t.not(third.id, first.id, 'the resumed burst is closed: a new one opens');
  t.deepEqual(await within(third.result(), 60_000, 'the new burst finishing'), { tag: key, n: 2 });
});

test('a debounced workflow with a declared queue waits and runs on that queue', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { ...ownVersion(), queues: [{ name: queue, concurrency: 1 }] });
  const key = unique('key');
  const handle = await skein.debounce(counted, { tag: key }, { key, delayMs: 300, queue });
  t.like(await handle.status(), { queue });
  t.deepEqual(await within(handle.result(), 60_000, 'the queued burst finishing'), { tag: key });
  t.like(await handle.status(), { status: 'SUCCESS', queue });
  t.true((await burstRow(handle.id)).ran_not_before);
});

test('debounce option errors are ConfigErrors naming the option, and write nothing', async (t) => {
  const skein = await launch(t, ownVersion());
  const key = unique('key');
  const cases: [string, unknown, RegExp[]][] = [
    ['no options', undefined, [/debounce options/]],
    ['missing key', { delayMs: 100 }, [/options\.key/, /required/]],
    ['missing delayMs', { key }, [/options\.delayMs/, /required/]],
    ['delayMs 0', { key, delayMs: 0 }, [/options\.delayMs/, /\b0\b/]],
    ['negative delayMs', { key, delayMs: -5 }, [/options\.delayMs/, /-5/]],
    ['fractional delayMs', { key, delayMs: 1.5 }, [/options\.delayMs/, /1\.5/]],
    ['maxWaitMs 0', { key, delayMs: 100, maxWaitMs: 0 }, [/options\.maxWaitMs/]],
    ['unknown option', { key, delayMs: 100, waitMs: 5 }, [/waitMs/, /unknown/]],
    ['undeclared queue', { key, delayMs: 100, queue: 'nowhere' }, [/options\.queue/, /nowhere/]],
    ['the internal queue', { key, delayMs: 100, queue: 'skein.internal' }, [/options\.queue/]],
  ];
  for (const [what, opts, patterns] of cases) {
    const err = await t.throwsAsync(skein.debounce(counted, { tag: key }, opts as never), { instanceOf: ConfigError }, what);
    for (const p of patterns) t.regex(err?.message ?? '', p, `${what}: ${err?.message}`);
  }
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE app_version = $1', [skein.appVersion]), [], 'nothing was written');
});

test.serial('ACCEPTANCE: debounce from three Skeins in two processes at once starts one workflow per burst, with the last committed input', async (t) => {
  t.timeout(240_000);
  const delayMs = 1000;
  const appVersion = unique('v');
  // two Skeins here, each with its own pool, and one in a child process: all of one version, so
  // any of them may run the burst's workflow
  const [a, b] = await Promise.all([launch(t, { workflows, appVersion, threads: 1 }), launch(t, { workflows, appVersion, threads: 1 })]);
  const live = new Set<ChildProcess>();
  t.teardown(() => live.forEach((c) => c.kill('SIGKILL')));
  const child = spawnFixture('time-delay-child.ts', [await testDatabase(), unique('child'), appVersion, 'debounce']);
  live.add(child);
  once(child, 'exit')
    .finally(() => live.delete(child))
    .catch(() => {});
  t.deepEqual(await messageFrom<DelayChildMessage>(child, "'ready'", 120_000), { kind: 'ready' });

  /**
   * One burst: `a` calls first, then `b` and the child call concurrently (20 calls each) while
   * `a` keeps calling, and `a` makes the last call once both are done. `a`'s calls holding
   * together keep the burst open throughout, so every call is in it, and `a`'s last call, begun
   * after every other call returned, is the last committed.
   */
  const burst = async (key: string) => {
    const aCalls: Call[] = [];
    const callA = async (src: string) => {
      const n = aCalls.length;
      const start = Date.now();
      const handle = await a.debounce(counted, { tag: key, n, src }, { key, delayMs });
      aCalls.push({ id: handle.id, n, start, end: Date.now() });
    };
    await callA('a');
    const order: DebounceOrder = { key, calls: 20, everyMs: 15, delayMs, src: 'child' };
    const childDone = messageFrom<DelayChildMessage>(child, "'called'", 120_000);
    child.send(order);
    let othersDone = false;
    const others = Promise.all([callSeries(b, key, 20, 15, { delayMs }, 'b'), childDone]).finally(() => (othersDone = true));
    while (!othersDone) {
      await sleep(20);
      await callA('a');
    }
    const [bCalls, childSaid] = await others;
    await callA('a');
    if (childSaid.kind !== 'called') throw new Error(`the child said ${JSON.stringify(childSaid)}`);
    return { key, calls: aCalls, bCalls, childCalls: childSaid.calls, last: { tag: key, n: aCalls.length - 1, src: 'a' } };
  };

  // two bursts of one key: the second opens once the first's workflow finished (a fresh key
  // only for an attempt after a stall, whose calls may have left a burst of their own)
  const done: { key: string; id: string }[] = [];
  let nextKey = unique('key');
  for (const which of ['first', 'second']) {
    const run = await heldTogether(t, delayMs, () => {
      const key = nextKey;
      nextKey = unique('key');
      return burst(key);
    });
    if (!run) return;
    nextKey = run.key;
    const { key, calls, bCalls, childCalls, last } = run;
    const all = [...calls, ...bCalls, ...childCalls];
    t.is(new Set(all.map((c) => c.id)).size, 1, `${which} burst: all ${all.length} calls, from three Skeins, returned one ID`);
    const id = calls[0]!.id;
    t.false(done.some((d) => d.id === id), `${which} burst: a new workflow ID`);
    t.deepEqual(await within(a.retrieve<Input>(id).result(), 60_000, `the ${which} burst's workflow finishing`), last, `${which} burst: the last committed input`);
    t.is(await count(runsKey(id)), 1, `${which} burst: its workflow ran once`);
    done.push({ key, id });
    const expected = done.filter((d) => d.key === key).map((d) => d.id).sort();
    const ran = await sql<{ id: string }>('SELECT id FROM time_runs WHERE tag = $1 ORDER BY id', [key]);
    t.deepEqual(ran.map((r) => r.id), expected, `${which} burst: one run per burst of the key`);
    t.deepEqual((await workflowsTagged(a, key)).sort(), expected, `${which} burst: one workflow per burst of the key`);
    t.true((await burstRow(id)).ran_not_before, `${which} burst: it began not before its start time`);
  }
  // two Skeins racing to open a burst on a fresh key meet in it: one inserts, the other joins
  const key = unique('key');
  const [x, y] = await Promise.all([
    b.debounce(counted, { tag: key, n: 0, src: 'b' }, { key, delayMs }),
    a.debounce(counted, { tag: key, n: 0, src: 'a' }, { key, delayMs }),
  ]);
  t.is(x.id, y.id, 'two calls racing to open a burst return one ID');
  await within(x.result(), 60_000, 'the raced burst finishing');
  t.is(await count(runsKey(x.id)), 1);
  t.deepEqual(await workflowsTagged(a, key), [x.id], 'one workflow for the raced key');
});
