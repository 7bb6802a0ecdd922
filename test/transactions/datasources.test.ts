// ctx.transaction around its edges: another database as a datasource (prepared at launch),
// read-only transactions, a function that swallows a failed statement, and every misuse refused
// with an error that names what to fix.
import test from 'ava';
import pg from 'pg';
import { ConfigError, Skein, SkeinError } from '../../runtime/index.ts';
import { createTestDatabase, launch, sql, testDatabase, unique } from '../support/helpers.ts';
import { misuse, orderOn, readOnlyCount, swallowed } from '../fixtures/transactions.ts';

const workflows = new URL('../fixtures/transactions.ts', import.meta.url);

test.before(async () => {
  await sql('CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, total integer NOT NULL)');
});

async function query(url: string, text: string, values: unknown[] = []): Promise<any[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, values)).rows;
  } finally {
    await c.end();
  }
}

test('a datasource in another database gets its table at launch and takes the write and its record', async (t) => {
  const appUrl = await createTestDatabase();
  await query(appUrl, 'CREATE TABLE orders (id text PRIMARY KEY, total integer NOT NULL)');
  const system = await testDatabase();
  const skein = await launch(t, { workflows, datasources: { app: { url: system }, shop: { url: appUrl, poolSize: 2 } } });
  const id = unique('order');
  const h = await skein.start(orderOn, { id, datasource: 'shop' });
  t.is(await h.result(), new URL(appUrl).pathname.slice(1));
  t.deepEqual(await query(appUrl, 'SELECT id FROM orders WHERE id = $1', [id]), [{ id }]);
  t.deepEqual(await sql('SELECT id FROM orders WHERE id = $1', [id]), [], 'nothing in the system database');
  t.deepEqual(await query(appUrl, 'SELECT workflow_id, step_id, name FROM skein.transaction_outputs'), [
    { workflow_id: h.id, step_id: 0, name: 'insertThere' },
  ]);
});

test('a read-only transaction returns its reads, records only its checkpoint, and cannot write', async (t) => {
  const skein = await launch(t, { workflows });
  const h = await skein.start(readOnlyCount, {});
  t.is(typeof (await h.result()), 'number');
  t.deepEqual(await sql('SELECT 1 FROM skein.transaction_outputs WHERE workflow_id = $1', [h.id]), []);
  const writer = await skein.start(readOnlyCount, { write: true });
  const err = await t.throwsAsync(writer.result());
  t.regex(err!.message, /read-only transaction/);
  t.deepEqual(await sql("SELECT id FROM orders WHERE id = 'never'"), []);
});

test('a function that swallows a failed statement: rolled back and failed, not committed in part', async (t) => {
  const skein = await launch(t, { workflows });
  const id = unique('order');
  const err = await t.throwsAsync(skein.run(swallowed, { id }));
  t.true(err instanceof SkeinError);
  t.regex(err!.message, /transaction 'swallows' \(step 0\) was rolled back: a statement in it failed and the function caught the error/);
  t.deepEqual(await sql('SELECT id FROM orders WHERE id = $1', [id]), []);
});

test('misuse is refused by name: unknown options, isolation levels, datasources, reserved names, calls inside a step', async (t) => {
  const skein = await launch(t, { workflows });
  const cases: [Parameters<typeof misuse.fn>[1]['how'], RegExp][] = [
    ['options', /unknown option ctx\.transaction\('t'\) options\.retries; known: isolation, readOnly, datasource/],
    ['isolation', /ctx\.transaction\('t'\) options\.isolation must be one of 'read committed', 'repeatable read', 'serializable', got "snapshot"/],
    ['datasource', /ctx\.transaction\('t'\): no datasource 'nowhere' in SkeinConfig\.datasources \(configured: app\)/],
    ['name', /ctx\.transaction name "skein\.mine": names starting with 'skein\.' are skein's own/],
    ['insideStep', /ctx\.transaction\('t'\) was called inside step 'outer'/],
    ['release', /transaction 't': tx\.release\(\) is skein's to call \(it begins, commits and releases\)/],
  ];
  for (const [how, message] of cases) {
    const err = await t.throwsAsync(skein.run(misuse, { how }));
    t.regex(err!.message, message, how);
  }
  // the connection the 'release' case held went back to the pool once, healthy: more
  // transactions than the pool has connections all run
  const counts = await Promise.all(Array.from({ length: 10 }, () => skein.run(readOnlyCount, {})));
  t.is(counts.length, 10);
});

test('bad datasources config is a ConfigError at launch naming the datasource', async (t) => {
  const databaseUrl = await testDatabase();
  const tries: [unknown, RegExp][] = [
    [{}, /config\.datasources is empty/],
    [{ shop: {} }, /config\.datasources\.shop\.url is required/],
    [{ shop: { url: 'postgres://localhost/x', poolSize: 0 } }, /config\.datasources\.shop\.poolSize must be an integer from 1 to 1000, got 0/],
    [{ shop: { url: 'postgres://localhost/x', pool: 3 } }, /unknown option config\.datasources\.shop\.pool; known: url, poolSize/],
    [{ shop: { url: 'postgres://127.0.0.1:1/nowhere' } }, /config\.datasources\.shop: cannot prepare the database at postgres:\/\/127\.0\.0\.1:1\/nowhere/],
  ];
  for (const [datasources, message] of tries) {
    const err = await t.throwsAsync(Skein.launch({ workflows, databaseUrl, threads: 1, executorId: unique('e'), datasources: datasources as never }));
    t.true(err instanceof ConfigError, String(err));
    t.regex(err!.message, message);
  }
});
