// ctx.transaction (issue 14): a transaction's writes and its output record commit together, so a
// crash between its commit and its checkpoint neither loses nor repeats it; serialization
// failures are retried; a failure rolls back and is recorded like a step's error.
import test from 'ava';
import pg from 'pg';
import { launch, sql, testDatabase, unique } from '../support/helpers.ts';
import { count } from '../support/counters.ts';
import { failingOrder, failingOrderUncaught, holdsLock, insertOrder, OutOfStock, readPauseWrite, threeIncrements } from '../fixtures/transactions.ts';
import { NonDeterminismError } from '../../runtime/index.ts';

const workflows = new URL('../fixtures/transactions.ts', import.meta.url);

test.before(async () => {
  await sql('CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, total integer NOT NULL)');
  await sql('CREATE TABLE IF NOT EXISTS tx_counters (key text PRIMARY KEY, n integer NOT NULL)');
  await sql('CREATE TABLE IF NOT EXISTS tx_accounts (id text PRIMARY KEY, balance integer NOT NULL)');
  await sql('CREATE SEQUENCE IF NOT EXISTS tx_attempts');
});

test('a thread that dies after the commit and before the checkpoint: the row exists once, the result is right', async (t) => {
  const skein = await launch(t, { workflows });
  const id = unique('die-after-commit');
  const order = unique('order');
  const result = await skein.run(insertOrder, { id: order, total: 42 }, { id });
  t.deepEqual(result, { id: order, after: 1 });
  t.is(await count(`${id}:1:died`), 1, 'the hook ended the thread once, right after the commit');
  t.is(await count(`${id}:before`), 1, 'the step before ran once');
  const rows = await sql('SELECT id, total FROM orders WHERE id = $1', [order]);
  t.deepEqual(rows, [{ id: order, total: 42 }]);
  const steps = await skein.getWorkflowSteps(id);
  t.deepEqual(steps.map((s) => s.name), ['before', 'insert', 'after']);
  t.is(steps[1]!.output, order);
  const [status] = await sql('SELECT status, attempts FROM skein.workflow_status WHERE id = $1', [id]);
  t.is(status.status, 'SUCCESS');
  t.true(status.attempts >= 2, `ran again after the thread died (attempts ${status.attempts})`);
});

test('a replay returns the recorded output and runs nothing again', async (t) => {
  // an app version of its own: every Skein serves the internal queue, so the fork could
  // otherwise be claimed by another test's Skein as it shuts down, and wait forever for it
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const key = unique('inc');
  const h = await skein.start(threeIncrements, { key });
  t.deepEqual(await h.result(), [1, 1, 1]);
  // forked from step 2: transactions 0 and 1 replay from their records, 2 runs again
  const fork = await skein.forkWorkflow(h.id, { startStep: 2 });
  t.deepEqual(await fork.result(), [1, 1, 2]);
  const rows = await sql('SELECT key, n FROM tx_counters WHERE key LIKE $1 ORDER BY key', [`${key}:%`]);
  t.deepEqual(rows.map((r) => r.n), [1, 1, 2]);
});

test('two serializable transactions on one row: the loser is retried, both succeed, the value is exact', async (t) => {
  const skein = await launch(t, { workflows, workflowsPerThread: 4 });
  const account = unique('acct');
  await sql('INSERT INTO tx_accounts (id, balance) VALUES ($1, 0)', [account]);
  // a sequence counts attempts: no rollback gives its numbers back
  const [{ n: before }] = await sql("SELECT nextval('tx_attempts') AS n");
  const handles = await Promise.all([1, 2].map(() => skein.start(readPauseWrite, { account, meet: 2 })));
  const results = await Promise.all(handles.map((h) => h.result()));
  t.deepEqual([...results].sort(), [1, 2]);
  const [{ balance }] = await sql('SELECT balance FROM tx_accounts WHERE id = $1', [account]);
  t.is(balance, 2);
  const [{ n: after }] = await sql("SELECT nextval('tx_attempts') AS n");
  const attempts = Number(after) - Number(before) - 1;
  t.true(attempts >= 3, `a conflict was retried (attempts: ${attempts})`);
});

test('a failed transaction rolls back, its error is recorded and rethrown', async (t) => {
  const skein = await launch(t, { workflows });
  const order = unique('order');
  const h = await skein.start(failingOrder, { id: order });
  t.is(await h.result(), `caught OutOfStock: no stock for ${order}`);
  t.deepEqual(await sql('SELECT id FROM orders WHERE id = $1', [order]), []);
  const [step] = await skein.getWorkflowSteps(h.id);
  t.is(step!.name, 'insertThenFail');
  t.true(step!.error instanceof OutOfStock);

  const uncaught = await skein.start(failingOrderUncaught, { id: unique('order') });
  const err = await t.throwsAsync(uncaught.result());
  t.true(err instanceof OutOfStock);
  t.is((await uncaught.status())!.status, 'ERROR');
});

test('deleting a workflow deletes its transaction records', async (t) => {
  const skein = await launch(t, { workflows });
  const key = unique('inc');
  const h = await skein.start(threeIncrements, { key });
  await h.result();
  t.is((await sql('SELECT count(*)::int AS n FROM skein.transaction_outputs WHERE workflow_id = $1', [h.id]))[0].n, 3);
  await skein.deleteWorkflow(h.id);
  t.is((await sql('SELECT count(*)::int AS n FROM skein.transaction_outputs WHERE workflow_id = $1', [h.id]))[0].n, 0);
});

test('a thread killed mid-transaction: its writes roll back, its locks go with it, the re-run commits once', async (t) => {
  const skein = await launch(t, { workflows });
  const account = unique('acct');
  await sql('INSERT INTO tx_accounts (id, balance) VALUES ($1, 0)', [account]);
  const h = await skein.start(holdsLock, { account });
  while ((await count(`${h.id}:locked`)) < 1) await new Promise((r) => setTimeout(r, 20));
  await skein.killThread(h.id);
  // The row lock goes with the thread's connection: Postgres checks that a datasource's client
  // is alive every second even mid-statement (without, it would hold the lock through the
  // minute of pg_sleep), so this update gets the row long before its lock_timeout.
  const c = new pg.Client({ connectionString: await testDatabase() });
  await c.connect();
  try {
    await c.query("SET lock_timeout = '15s'");
    await c.query('UPDATE tx_accounts SET balance = balance + 1 WHERE id = $1', [account]);
  } finally {
    await c.end();
  }
  // the re-run commits once, before or after the outside update (it runs 100 ms after the kill)
  t.true([100, 101].includes(await h.result()));
  const [{ balance }] = await sql('SELECT balance FROM tx_accounts WHERE id = $1', [account]);
  t.is(balance, 101, 'the killed attempt rolled back: one +100 and the outside +1');
});

test('a record found under another name (the code changed since it committed) is a NonDeterminismError', async (t) => {
  const skein = await launch(t, { workflows });
  const id = unique('stale');
  await sql("INSERT INTO skein.transaction_outputs (workflow_id, step_id, name, output) VALUES ($1, 0, 'inc-old', NULL)", [id]);
  const err = await t.throwsAsync(skein.run(threeIncrements, { key: unique('k') }, { id }));
  t.true(err instanceof NonDeterminismError, String(err));
  t.regex(err!.message, /transaction recorded as 'inc-old' but the code now calls 'inc0'/);
  t.deepEqual(await sql('SELECT key FROM tx_counters WHERE key LIKE $1', [`${id}%`]), []);
});

test('a datasource connection lost mid-transaction: retried in place, committed once', async (t) => {
  const skein = await launch(t, { workflows });
  const account = unique('acct');
  await sql('INSERT INTO tx_accounts (id, balance) VALUES ($1, 0)', [account]);
  const h = await skein.start(holdsLock, { account });
  // what a Postgres restart or a failover does to the connection (57P01), once it sleeps
  const terminate = "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND query = 'SELECT pg_sleep(60)'";
  while ((await sql(terminate, [`holdsLock:${account}`])).length === 0) await new Promise((r) => setTimeout(r, 20));
  t.is(await h.result(), 100);
  const [{ balance }] = await sql('SELECT balance FROM tx_accounts WHERE id = $1', [account]);
  t.is(balance, 100, 'the terminated attempt rolled back, the retry committed once');
  const [row] = await sql('SELECT attempts FROM skein.workflow_status WHERE id = $1', [h.id]);
  t.is(row.attempts, 1, 'retried inside the execution, not by running the workflow again');
});
