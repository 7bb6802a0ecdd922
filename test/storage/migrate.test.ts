import test, { type ExecutionContext } from 'ava';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { createPool } from '../../storage/database.ts';
import { migrate } from '../../storage/migrate.ts';
import { ConfigError } from '../../common/errors.ts';
import * as wf from '../fixtures/workflows.ts';
import { launch, sql, testDatabase, waitFor } from '../support/helpers.ts';

// what this code ships, read independently of migrate.ts
const files = readdirSync(new URL('../../storage/migrations/', import.meta.url))
  .filter((f) => /^\d{4}_.+\.sql$/.test(f))
  .sort();
const versions = files.map((_, i) => i + 1);
const latest = versions.length;

function pools(t: ExecutionContext, url: string, n: number): pg.Pool[] {
  const ps = Array.from({ length: n }, () => createPool(url, 1, () => {}));
  t.teardown(() => Promise.all(ps.map((p) => p.end())));
  return ps;
}

/** Everything a refused migration must leave as it was: the tables, every migrations row, the sentinel. */
async function snapshot(schema: string) {
  return {
    tables: (
      await sql(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema])
    ).map((r) => r.table_name),
    migrations: await sql(`SELECT version, name, applied_at FROM ${schema}.migrations ORDER BY version`),
    sentinel: await sql(`SELECT note FROM ${schema}.sentinel`),
  };
}

/** A fully migrated schema, then a row as a newer skein would have left it, and a sentinel table. */
async function migratedByNewerSkein(pool: pg.Pool, schema: string, future: number): Promise<void> {
  await migrate(pool, schema);
  await sql(`CREATE TABLE ${schema}.sentinel (note text); INSERT INTO ${schema}.sentinel VALUES ('untouched')`);
  await sql(`INSERT INTO ${schema}.migrations (version, name) VALUES ($1, $2)`, [
    future,
    `${String(future).padStart(4, '0')}_from_the_future.sql`,
  ]);
}

/** The refusal names the schema, both numbers and the fix, and never the connection string. */
async function assertNewerRefusal(t: ExecutionContext, err: Error | undefined, schema: string, future: number) {
  t.true(err instanceof ConfigError, String(err));
  const message = err?.message ?? '';
  t.regex(message, new RegExp(`\\bschema ${schema} is at migration ${future}\\b`));
  t.regex(message, new RegExp(`\\bknows migrations up to ${latest}\\b`));
  t.regex(message, /upgrade skein/);
  const url = new URL(await testDatabase());
  t.false(message.includes(url.href), 'no connection string');
  t.false(message.includes(decodeURIComponent(url.password)), 'no password');
}

test('the shipped migrations are numbered 1..N', (t) => {
  t.true(files.length > 0);
  t.deepEqual(files.map((f) => Number(f.slice(0, 4))), versions);
});

test('migrations applied by several processes at once run exactly once', async (t) => {
  const ps = pools(t, await testDatabase(), 5);
  const applied = await Promise.all(ps.map((p) => migrate(p, 'concurrent_schema')));
  // each migration applied by exactly one migrator, all of them by the first to take the lock
  t.deepEqual(applied.flat().sort((a, b) => a - b), versions, 'each migration applied exactly once');
  t.deepEqual(applied.filter((a) => a.length > 0), [versions], 'one migrator applied 1..N in order, the others none');
  const rows = await sql('SELECT version, name FROM concurrent_schema.migrations ORDER BY version');
  t.deepEqual(rows.map((r) => r.version), versions);
  t.deepEqual(rows.map((r) => r.name), files);
  t.deepEqual(await migrate(ps[0]!, 'concurrent_schema'), [], 'idempotent');
  t.is((await sql('SELECT count(*)::int AS n FROM concurrent_schema.migrations'))[0].n, latest);
});

test('a configured schema holds the system tables', async (t) => {
  const skein = await launch(t, { schema: 'custom_schema' });
  t.is(await skein.run(wf.echo, 'x'), 'x');
  const rows = await sql(`SELECT count(*)::int AS n FROM custom_schema.workflow_status`);
  t.is(rows[0].n, 1);
});

test('schema names that would need quoting are refused before any SQL runs', async (t) => {
  const pool = createPool(await testDatabase(), 1, () => {});
  t.teardown(() => pool.end());
  for (const bad of ['Skein', 'a-b', 'x; DROP TABLE y', '', '1abc', 'a'.repeat(64)]) {
    await t.throwsAsync(migrate(pool, bad), { instanceOf: ConfigError }, bad);
  }
});

test('a schema migrated by a newer skein is refused and left unchanged', async (t) => {
  const [pool] = pools(t, await testDatabase(), 1);
  const future = latest + 3;
  await migratedByNewerSkein(pool!, 'newer_schema', future);
  const before = await snapshot('newer_schema');
  const err = await t.throwsAsync(migrate(pool!, 'newer_schema'));
  await assertNewerRefusal(t, err, 'newer_schema', future);
  t.deepEqual(await snapshot('newer_schema'), before);
});

test('a schema holding only a newer migration gets none of ours applied', async (t) => {
  const [pool] = pools(t, await testDatabase(), 1);
  const future = latest + 1;
  await sql(`CREATE SCHEMA newer_bare;
    CREATE TABLE newer_bare.migrations (version integer PRIMARY KEY, name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE newer_bare.sentinel (note text); INSERT INTO newer_bare.sentinel VALUES ('untouched')`);
  await sql(`INSERT INTO newer_bare.migrations (version, name) VALUES ($1, 'future.sql')`, [future]);
  const err = await t.throwsAsync(migrate(pool!, 'newer_bare'));
  await assertNewerRefusal(t, err, 'newer_bare', future);
  const after = await snapshot('newer_bare');
  t.deepEqual(after.tables, ['migrations', 'sentinel'], 'no migration of ours ran');
  t.deepEqual(after.migrations.map((r) => r.version), [future]);
  t.deepEqual(after.sentinel, [{ note: 'untouched' }]);
});

test('launch on a schema migrated by a newer skein fails with a ConfigError', async (t) => {
  const [pool] = pools(t, await testDatabase(), 1);
  const future = latest + 2;
  await migratedByNewerSkein(pool!, 'newer_launch', future);
  const before = await snapshot('newer_launch');
  const err = await t.throwsAsync(launch(t, { schema: 'newer_launch' }));
  await assertNewerRefusal(t, err, 'newer_launch', future);
  t.deepEqual(await snapshot('newer_launch'), before);
});

test('several launches racing on a schema migrated by a newer skein are all refused', async (t) => {
  const ps = pools(t, await testDatabase(), 5);
  const future = latest + 1;
  await migratedByNewerSkein(ps[0]!, 'newer_race', future);
  const before = await snapshot('newer_race');
  const results = await Promise.allSettled(ps.map((p) => migrate(p, 'newer_race')));
  for (const r of results) {
    t.is(r.status, 'rejected');
    await assertNewerRefusal(t, r.status === 'rejected' ? r.reason : undefined, 'newer_race', future);
  }
  t.deepEqual(await snapshot('newer_race'), before);
});

test('launches waiting on a newer skein that is migrating are refused once it commits', async (t) => {
  const url = await testDatabase();
  const ps = pools(t, url, 5);
  const future = latest + 1;
  await migrate(ps[0]!, 'newer_midway');
  await sql(`CREATE TABLE newer_midway.sentinel (note text); INSERT INTO newer_midway.sentinel VALUES ('untouched')`);
  // the newer skein: holds the migration lock while it adds a table and records its migration
  const newer = new pg.Client({ connectionString: url });
  await newer.connect();
  t.teardown(() => newer.end());
  await newer.query('BEGIN');
  await newer.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['skein.migrate.newer_midway']);
  const racing = ps.map((p) => migrate(p, 'newer_midway'));
  const settled = Promise.allSettled(racing);
  // every older migrator is queued on the lock, having read nothing yet
  await waitFor(async () => {
    const [row] = await sql(
      `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
         AND objid::bigint = (hashtext($1)::bigint & 4294967295)`,
      ['skein.migrate.newer_midway'],
    );
    return row.n === ps.length;
  });
  await newer.query('CREATE TABLE newer_midway.added_by_newer (x int)');
  await newer.query(`INSERT INTO newer_midway.migrations (version, name) VALUES ($1, 'future.sql')`, [future]);
  await newer.query('COMMIT');
  const before = await snapshot('newer_midway');
  for (const r of await settled) {
    t.is(r.status, 'rejected');
    await assertNewerRefusal(t, r.status === 'rejected' ? r.reason : undefined, 'newer_midway', future);
  }
  t.deepEqual(await snapshot('newer_midway'), before);
  t.true(before.tables.includes('added_by_newer'));
});

test('a migrations table with a gap or an unknown name is refused and left unchanged', async (t) => {
  const [pool] = pools(t, await testDatabase(), 1);
  for (const [schema, edit, pattern] of [
    ['renamed_schema', `UPDATE renamed_schema.migrations SET name = 'other.sql' WHERE version = 1`,
      /schema renamed_schema records migration 1 as 'other\.sql', which this version of skein does not know/],
    ['unknown_schema', `INSERT INTO unknown_schema.migrations (version, name) VALUES (0, 'zero.sql')`,
      /schema unknown_schema records migration 0 as 'zero\.sql'/],
    ['gap_schema', `DELETE FROM gap_schema.migrations WHERE version = 1`,
      /schema gap_schema records migration \d+ but not 1\b/],
  ] as const) {
    await migrate(pool!, schema);
    await sql(`CREATE TABLE ${schema}.sentinel (note text); INSERT INTO ${schema}.sentinel VALUES ('untouched')`);
    await sql(edit);
    const before = await snapshot(schema);
    const err = await t.throwsAsync(migrate(pool!, schema), { instanceOf: ConfigError }, schema);
    t.regex(err?.message ?? '', pattern);
    t.deepEqual(await snapshot(schema), before, schema);
  }
});
