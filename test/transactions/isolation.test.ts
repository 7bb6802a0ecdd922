// ctx.transaction against misuse and races (an adversarial review's findings, kept): whatever a
// function leaves on its pooled connection or does with `tx` afterwards reaches no other
// workflow; only the database's own failures are retried; a cancel frees the connection; and of
// two executions racing on one transaction, the workflow sees the outcome that committed.
import test from 'ava';
import { SkeinError } from '../../runtime/index.ts';
import { launch, sql, testDatabase, unique } from '../support/helpers.ts';
import { bump, count } from '../support/counters.ts';
import * as f from '../fixtures/transaction-misuse.ts';

const workflows = new URL('../fixtures/transaction-misuse.ts', import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.before(async () => {
  await sql('CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, total integer NOT NULL)');
  await sql('CREATE TABLE IF NOT EXISTS tx_counters (key text PRIMARY KEY, n integer NOT NULL)');
  await sql('CREATE SCHEMA IF NOT EXISTS elsewhere');
  await sql('CREATE TABLE IF NOT EXISTS elsewhere.orders (id text PRIMARY KEY, total integer NOT NULL)');
});

/** One thread with one connection: each transaction gets the connection the last one used. */
async function oneConnection(t: Parameters<typeof launch>[0]) {
  return launch(t, { workflows, threads: 1, datasources: { app: { url: await testDatabase(), poolSize: 1 } } });
}

test('what a transaction leaves on its connection does not reach the next workflow on it', async (t) => {
  const skein = await oneConnection(t);
  const order = unique('order');
  const leftovers = [
    'SET statement_timeout = 50',
    'SET search_path = elsewhere',
    'CREATE TEMP TABLE scratch (x int)',
    'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY',
    'SELECT pg_advisory_lock(4242)',
    'LISTEN somewhere',
  ];
  await skein.run(f.statements, { statements: leftovers });
  const rows = await skein.run(f.statements, {
    statements: [
      'SELECT pg_sleep(0.2)',
      'CREATE TEMP TABLE scratch (x int)',
      `INSERT INTO orders (id, total) VALUES ('${order}', 1)`,
      `SELECT current_setting('search_path') AS path,
              (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS locks`,
    ],
  });
  t.deepEqual(rows, [{ path: '"$user", public', locks: 0 }]);
  t.deepEqual(await sql('SELECT id FROM public.orders WHERE id = $1', [order]), [{ id: order }]);
});

test('tx kept past its transaction throws, and its listeners are gone from the pooled connection', async (t) => {
  const skein = await oneConnection(t);
  t.regex(await skein.run(f.keepsTx, {}), /SkeinError: transaction 'keeps': tx was used after its transaction ended/);
  t.is(await skein.run(f.noticeListeners, {}), 0);
});

test("the function's own error is recorded whatever its code looks like; only the database's failures are retried", async (t) => {
  const skein = await launch(t, { workflows });
  const h = await skein.start(f.upstreamDown, {});
  const err = await t.throwsAsync(h.result());
  t.regex(err!.message, /payments API is down/);
  t.is(await count(`${h.id}:attempt`), 1);
});

test('a function that commits through tx fails the transaction, saying so', async (t) => {
  const skein = await launch(t, { workflows });
  const err = await t.throwsAsync(skein.run(f.commitsItself, { key: unique('k') }));
  t.true(err instanceof SkeinError);
  t.regex(err!.message, /the function ended the transaction itself \(COMMIT or ROLLBACK through tx\)/);
});

test('an un-awaited failing query fails its own transaction and nothing else on the thread', async (t) => {
  const skein = await launch(t, { workflows, threads: 1 });
  const err = await t.throwsAsync(skein.run(f.unawaited, {}));
  t.regex(err!.message, /a statement in it failed and the function caught the error \(or did not await it\)/);
  t.deepEqual(await skein.run(f.statements, { statements: ['SELECT 1 AS one'] }), [{ one: 1 }]);
});

test('a read-only transaction cannot be switched to read-write', async (t) => {
  const skein = await launch(t, { workflows });
  const order = unique('order');
  const err = await t.throwsAsync(
    skein.run(f.statements, { readOnly: true, statements: ['SET TRANSACTION READ WRITE', `INSERT INTO orders (id, total) VALUES ('${order}', 1)`] }),
  );
  t.regex(err!.message, /read-write mode must be set before any query/);
  t.deepEqual(await sql('SELECT id FROM orders WHERE id = $1', [order]), []);
});

test("cancelling a workflow hung in its transaction frees its connection for the thread's other workflows", async (t) => {
  const skein = await launch(t, { workflows, threads: 1, datasources: { app: { url: await testDatabase(), poolSize: 1 } } });
  const until = unique('release');
  t.teardown(() => bump(until));
  const hung = await skein.start(f.hangs, { until });
  while ((await count(`${hung.id}:holding`)) < 1) await sleep(20);
  const next = skein.run(f.statements, { statements: ['SELECT 1 AS one'] });
  await skein.cancelWorkflow(hung.id);
  t.deepEqual(await next, [{ one: 1 }], 'ran on the freed connection, before the hung function returned');
  t.is(await count(until), 0);
  t.is((await hung.status())!.status, 'CANCELLED');
});

test('two executions racing on one transaction: the one that commits is the outcome, not the loser\'s duplicate-key error', async (t) => {
  const first = await launch(t, { workflows });
  const second = await launch(t, { workflows, recover: false });
  const order = unique('order');
  const h = await first.start(f.racingInsert, { order });
  while ((await count(`${h.id}:tx-run`)) < 1) await sleep(20);
  // the first executor is taken for dead (a long pause, a partition): another runs its work
  await second.recoverPendingWorkflows([first.executorId]);
  while ((await count(`${h.id}:tx-run`)) < 2) await sleep(20);
  await sleep(200); // the second run's insert now waits on the first's uncommitted row
  await bump(`${h.id}:release`);
  t.is(await second.retrieve(h.id).result(), 'inserted by run 1');
  t.deepEqual(await sql('SELECT id FROM orders WHERE id = $1', [order]), [{ id: order }]);
});
