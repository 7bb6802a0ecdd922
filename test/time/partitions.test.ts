// Issue 15, acceptance: partitioned queues. `partitionConcurrency` bounds the running workflows
// of each partition key across every process on the database, beside the queue's global
// `concurrency`. The `partitioned` fixture holds its slot for a while and records itself in
// part_running; triggers on that table log each run's interval (part_log, stamped inside the
// step, so a logged interval lies within the time the workflow was PENDING), from which the test
// computes the most runs that overlapped, per key and overall.
import test from 'ava';
import { Client, ConfigError, Skein } from '../../runtime/index.ts';
import type { WorkflowHandle } from '../../runtime/index.ts';
import * as time from '../fixtures/time.ts';
import { launch, migrated, sql, unique, waitFor, within } from '../support/helpers.ts';
import { startChild } from '../support/time-children.ts';
import { maxOverlap, type Interval } from '../support/intervals.ts';

const workflows = new URL('../fixtures/time.ts', import.meta.url);

test.before(async () => {
  await migrated();
  await sql('CREATE TABLE time_runs (id text PRIMARY KEY, tag text, input text, started_at timestamptz)');
  await sql('CREATE TABLE part_running (id text PRIMARY KEY, key text NOT NULL)');
  await sql('CREATE TABLE part_max (key text PRIMARY KEY, n int NOT NULL)');
  await sql('CREATE TABLE part_log (id text PRIMARY KEY, key text NOT NULL, started timestamptz NOT NULL, ended timestamptz)');
  await sql(`CREATE FUNCTION part_log_start() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO part_log (id, key, started) VALUES (NEW.id, NEW.key, clock_timestamp()) ON CONFLICT (id) DO NOTHING; RETURN NULL; END $$`);
  await sql(`CREATE FUNCTION part_log_end() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN UPDATE part_log SET ended = clock_timestamp() WHERE id = OLD.id; RETURN NULL; END $$`);
  await sql('CREATE TRIGGER part_running_start AFTER INSERT ON part_running FOR EACH ROW EXECUTE FUNCTION part_log_start()');
  await sql('CREATE TRIGGER part_running_end AFTER DELETE ON part_running FOR EACH ROW EXECUTE FUNCTION part_log_end()');
});


/** The logged runs of keys starting with `prefix`, by key (times in µs, from the database). */
async function runsByKey(prefix: string): Promise<Map<string, Interval[]>> {
  const rows = await sql<{ key: string; start: string; end: string | null }>(
    `SELECT key, (extract(epoch FROM started) * 1e6)::bigint::text AS start, (extract(epoch FROM ended) * 1e6)::bigint::text AS end
     FROM part_log WHERE starts_with(key, $1)`,
    [prefix],
  );
  const byKey = new Map<string, Interval[]>();
  for (const r of rows) {
    if (r.end === null) throw new Error(`the run of key ${r.key} that started at ${r.start} never ended`);
    const list = byKey.get(r.key) ?? [];
    list.push({ start: Number(r.start), end: Number(r.end) });
    byKey.set(r.key, list);
  }
  return byKey;
}

/** part_max of keys starting with `prefix`: the fixture's own reading of each key's concurrency. */
async function partMax(prefix: string): Promise<Record<string, number>> {
  const rows = await sql<{ key: string; n: number }>('SELECT key, n FROM part_max WHERE starts_with(key, $1) ORDER BY key', [prefix]);
  return Object.fromEntries(rows.map((r) => [r.key, r.n]));
}

/**
 * `count` partitioned workflows over `keys` keys of `queue`, half started by `skein`, half
 * enqueued by a Client; `keyMajor` lists all of one key's before the next key's (the queue's
 * oldest rows then all share one key, so only the partition limit stops a claim from taking
 * several of them). Returns the handles, the keys and the IDs' prefix.
 */
async function enqueueAll(skein: Skein, client: Client, queue: string, count: number, keys: number, holdMs: number, keyMajor: boolean) {
  const prefix = unique('p');
  const keyOf = (i: number) => `${prefix}:k${keyMajor ? Math.floor(i / (count / keys)) : i % keys}`;
  const handles: WorkflowHandle<string>[] = [];
  for (let i = 0; i < count; i++) {
    const key = keyOf(i);
    const id = `${prefix}-${i}`;
    handles.push(
      i % 2 === 0
        ? await skein.start(time.partitioned, { key, holdMs }, { id, queue, partitionKey: key })
        : await client.enqueue<string>({ workflow: 'partitioned', queue, id, partitionKey: key }, { key, holdMs }),
    );
  }
  return { handles, prefix, keys: [...new Set(Array.from({ length: count }, (_, i) => keyOf(i)))] };
}

test('ACCEPTANCE: partitionConcurrency 1 holds per key for 200 workflows over 10 keys from 2 processes', async (t) => {
  t.timeout(300_000);
  const queue = unique('parts');
  const queues = [{ name: queue, partitionConcurrency: 1 }];
  const child = await startChild(t, 'time.ts', { queues });
  const skein = await launch(t, { workflows, queues });
  const client = await Client.connect({ databaseUrl: skein.databaseUrl });
  t.teardown(() => client.close());

  const { handles, prefix, keys } = await enqueueAll(skein, client, queue, 200, 10, 30, false);
  t.is(keys.length, 10);
  const results = await within(Promise.all(handles.map((h) => h.result())), 240_000, 'the 200 partitioned workflows finishing');
  t.deepEqual(new Set(results), new Set(keys));

  const statuses = await skein.listWorkflows({ idPrefix: `${prefix}-`, loadInput: false, loadOutput: false });
  t.is(statuses.length, 200);
  t.deepEqual(statuses.filter((s) => s.status !== 'SUCCESS').map((s) => `${s.id}: ${s.status}`), []);
  // each carries its key, and ran in the queue
  t.deepEqual(statuses.filter((s) => s.queue !== queue || !s.partitionKey?.startsWith(`${prefix}:k`)).map((s) => s.id), []);

  // the fixture's reading and the logged intervals agree: never two of one key at once
  t.deepEqual(await partMax(prefix), Object.fromEntries(keys.map((k) => [k, 1])));
  const runs = await runsByKey(prefix);
  t.deepEqual([...runs.keys()].sort(), [...keys].sort());
  for (const [key, intervals] of runs) {
    t.is(intervals.length, 20, `runs of ${key}`);
    t.is(maxOverlap(intervals), 1, `most runs of ${key} at once`);
  }

  // both processes claimed some: the limit held across processes, not within one
  const byExecutor = new Map<string, number>();
  for (const s of statuses) byExecutor.set(s.executorId, (byExecutor.get(s.executorId) ?? 0) + 1);
  t.log(`runs by executor: ${JSON.stringify(Object.fromEntries(byExecutor))}; overall at once: ${maxOverlap([...runs.values()].flat())}`);
  t.true((byExecutor.get(skein.executorId) ?? 0) > 0, 'the test process ran some');
  t.true((byExecutor.get(child.executorId) ?? 0) > 0, 'the child process ran some');
  t.is((byExecutor.get(skein.executorId) ?? 0) + (byExecutor.get(child.executorId) ?? 0), 200);
});

test('partitionConcurrency 2 with concurrency 4 across 2 processes: at most 2 per key and 4 overall', async (t) => {
  t.timeout(300_000);
  const queue = unique('parts2');
  const queues = [{ name: queue, partitionConcurrency: 2, concurrency: 4 }];
  const child = await startChild(t, 'time.ts', { queues });
  const skein = await launch(t, { workflows, queues });
  const client = await Client.connect({ databaseUrl: skein.databaseUrl });
  t.teardown(() => client.close());

  // key-major: without the partition limit, the 4 oldest (all of key 0) would run together;
  // 10 keys x 2 = 20 > 4, so without the global limit more than 4 would run
  const { handles, prefix, keys } = await enqueueAll(skein, client, queue, 100, 10, 60, true);
  await within(Promise.all(handles.map((h) => h.result())), 240_000, 'the 100 partitioned workflows finishing');
  const statuses = await skein.listWorkflows({ idPrefix: `${prefix}-`, loadInput: false, loadOutput: false });
  t.deepEqual(statuses.filter((s) => s.status !== 'SUCCESS').map((s) => `${s.id}: ${s.status}`), []);
  t.is(statuses.length, 100);

  const maxima = await partMax(prefix);
  t.deepEqual(Object.keys(maxima).sort(), [...keys].sort());
  for (const [key, n] of Object.entries(maxima)) t.true(n <= 2, `${key} had ${n} running at once (part_max)`);
  const runs = await runsByKey(prefix);
  const perKey = [...runs].map(([key, intervals]) => [key, maxOverlap(intervals)] as const);
  for (const [key, n] of perKey) t.true(n <= 2, `${key} had ${n} running at once (logged intervals)`);
  const overall = maxOverlap([...runs.values()].flat());
  t.true(overall <= 4, `${overall} ran at once in the queue`);
  const executors = new Set(statuses.map((s) => s.executorId));
  t.log(`most at once: ${overall} overall, per key ${JSON.stringify(Object.fromEntries(perKey))}; executors: ${executors.size} (child ${child.executorId})`);
});

test('a key with a backlog does not hold back another key', async (t) => {
  const queue = unique('parts3');
  const skein = await launch(t, { workflows, queues: [{ name: queue, partitionConcurrency: 1 }] });
  const prefix = unique('p');
  const busy = `${prefix}:busy`;
  const other = `${prefix}:other`;
  const backlog = [];
  for (let i = 0; i < 10; i++) {
    backlog.push(await skein.start(time.partitioned, { key: busy, holdMs: 200 }, { id: `${prefix}-busy-${i}`, queue, partitionKey: busy }));
  }
  const late = await skein.start(time.partitioned, { key: other, holdMs: 1 }, { id: `${prefix}-other`, queue, partitionKey: other });
  await within(late.result(), 60_000, 'the other key\'s workflow finishing');
  // enqueued last, it finished while the busy key still had work waiting (10 x 200 ms in a row)
  const waiting = await skein.listWorkflows({ idPrefix: `${prefix}-busy-`, status: ['ENQUEUED'], loadInput: false, loadOutput: false });
  t.true(waiting.length > 0, 'the busy key still had workflows waiting when the other key\'s ran');
  await within(Promise.all(backlog.map((h) => h.result())), 120_000, 'the backlog finishing');
  t.is((await partMax(prefix))[busy], 1);
});

test('partitionKey: required on a partitioned queue, refused elsewhere, nothing written', async (t) => {
  const parted = unique('parted');
  const plain = unique('plain');
  const skein = await launch(t, { workflows, queues: [{ name: parted, partitionConcurrency: 1 }, { name: plain }] });
  const input = { key: 'k', holdMs: 1 };
  const ids = [unique('cfg'), unique('cfg'), unique('cfg')];

  const missing = await t.throwsAsync(skein.start(time.partitioned, input, { id: ids[0], queue: parted }), { instanceOf: ConfigError });
  t.regex(missing!.message, /partitionKey/);
  t.true(missing!.message.includes(parted), missing!.message);

  const unpartitioned = await t.throwsAsync(skein.start(time.partitioned, input, { id: ids[1], queue: plain, partitionKey: 'k' }), {
    instanceOf: ConfigError,
  });
  t.regex(unpartitioned!.message, /partitionKey/);
  t.true(unpartitioned!.message.includes(plain), unpartitioned!.message);

  const noQueue = await t.throwsAsync(skein.start(time.partitioned, input, { id: ids[2], partitionKey: 'k' }), { instanceOf: ConfigError });
  t.regex(noQueue!.message, /partitionKey.*queue/);

  t.deepEqual(await skein.listWorkflows({ ids }), []);
  // the same start with its key is accepted
  const ok = await skein.start(time.partitioned, input, { id: ids[0], queue: parted, partitionKey: 'k' });
  t.is(await within(ok.result(), 60_000, 'the keyed start finishing'), 'k');
});

test('partitionConcurrency must be a positive integer: a ConfigError at launch naming it', async (t) => {
  for (const bad of [0, -1, 1.5, '2', null]) {
    const err = await t.throwsAsync(
      Skein.launch({ workflows, databaseUrl: 'postgres://unused', queues: [{ name: 'q', partitionConcurrency: bad as number }] }),
      { instanceOf: ConfigError },
    );
    t.regex(err!.message, /partitionConcurrency/, `for ${JSON.stringify(bad)}`);
  }
});

test('a key stays taken by the workflow of a killed process until that workflow is recovered and done', async (t) => {
  t.timeout(240_000);
  const queue = unique('parts5');
  const queues = [{ name: queue, partitionConcurrency: 1 }];
  const executorId = unique('child');
  const first = await startChild(t, 'time.ts', { queues }, executorId);
  const client = await Client.connect({ databaseUrl: process.env.SKEIN_TEST_DB! });
  t.teardown(() => client.close());
  const prefix = unique('p');
  const key = `${prefix}:k`;
  const other = `${prefix}:other`;
  const enqueue = (name: string, k: string, holdMs: number) =>
    client.enqueue<string>({ workflow: 'partitioned', queue, id: `${prefix}-${name}`, partitionKey: k }, { key: k, holdMs });

  // only the child serves the queue yet: it takes x, and dies holding it
  const x = await enqueue('x', key, 3000);
  await waitFor(async () => (await sql('SELECT 1 FROM part_running WHERE id = $1', [x.id])).length === 1, 60_000, 'x running in the child');
  first.process.kill('SIGKILL');
  await new Promise((r) => first.process.once('exit', r));

  // this process serves the queue now; y waits behind x's PENDING row. z, of another key and
  // enqueued after y, finishing proves this process polled the queue with y in it
  const skein = await launch(t, { workflows, queues });
  const y = await enqueue('y', key, 10);
  const z = await enqueue('z', other, 10);
  await within(z.result(), 60_000, 'z (another key) finishing');
  t.is((await y.status())?.status, 'ENQUEUED', 'y did not start while x was PENDING under the dead process');

  // the executor comes back, recovers x, and the key goes on: y after x, never together
  await startChild(t, 'time.ts', { queues }, executorId);
  t.is(await within(x.result(), 120_000, 'x recovered and finished'), key);
  t.is(await within(y.result(), 60_000, 'y finishing after x'), key);
  const runs = (await runsByKey(prefix)).get(key)!;
  t.is(runs.length, 2);
  t.is(maxOverlap(runs), 1);
  t.log(`x ran by ${(await x.status())?.executorId}, y by ${(await y.status())?.executorId} (this process: ${skein.executorId})`);
});
