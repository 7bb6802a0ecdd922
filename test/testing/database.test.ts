// skein/testing's database(): a fresh database per test file, cloned from a template that
// skein's migrations ran on once per server.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import { Skein } from '../../runtime/index.ts';
import { database, type TestDatabase } from '../../runtime/testing/index.ts';
import { createPool } from '../../storage/database.ts';
import { runningPostmaster } from '../../storage/embedded-postmaster.ts';
import { knownMigrations, migrate } from '../../storage/migrate.ts';
import { buildName, templateName, urlOfDatabase } from '../../storage/test-databases.ts';
import * as wf from '../fixtures/workflows.ts';
import { fixtures, sqlAt, unique, within } from '../support/helpers.ts';

const server = process.env.SKEIN_TEST_DATABASE_URL!;
// the embedded tests below must not find a server in the environment (helpers.ts read it already)
delete process.env.SKEIN_TEST_DATABASE_URL;
delete process.env.SKEIN_DATABASE_URL;
delete process.env.DATABASE_URL;

/** A schema no other test uses, so its template is not there yet. */
const freshSchema = () => `t_${unique('s').slice(2).replace('-', '')}`;

const made: TestDatabase[] = [];
const schemas: string[] = [];
async function fresh(options: Parameters<typeof database>[0] = {}): Promise<TestDatabase> {
  const db = await database({ url: server, ...options });
  made.push(db);
  return db;
}
test.after.always(async () => {
  await Promise.all(made.map((db) => db.drop()));
  // templates of this file's own schemas; the one of 'skein' stays for the next run
  for (const schema of schemas) {
    const name = await templateName(schema);
    await sqlAt(server, `ALTER DATABASE ${name} WITH IS_TEMPLATE false`).catch(() => {});
    await sqlAt(server, `DROP DATABASE IF EXISTS ${name}`);
  }
});

const nameOf = (url: string) => new URL(url).pathname.slice(1);
const databases = async (like: string) =>
  (await sqlAt<{ datname: string }>(server, 'SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1', [like])).map((r) => r.datname);

test('a clone has skein tables: migrate finds nothing to do, and a Skein runs a workflow on it', async (t) => {
  const db = await fresh();
  t.regex(nameOf(db.url), /^skein_test_[0-9a-f]{16}$/);
  const pool = createPool(db.url, 1, () => {});
  try {
    t.deepEqual(await migrate(pool, 'skein'), []);
  } finally {
    await pool.end();
  }
  const rows = await sqlAt(db.url, 'SELECT name FROM skein.migrations ORDER BY version');
  t.deepEqual(rows.map((r) => r.name), (await knownMigrations()).map((m) => m.name));
  const skein = await Skein.launch({ workflows: fixtures, databaseUrl: db.url, threads: 2, executorId: unique('executor'), takeover: false });
  try {
    t.deepEqual(await skein.run(wf.echo, { hello: 'clone' }), { hello: 'clone' });
  } finally {
    await skein.shutdown({ timeoutMs: 2000 });
  }
  t.is((await sqlAt(db.url, "SELECT count(*)::int AS n FROM skein.workflow_status WHERE status = 'SUCCESS'"))[0].n, 1);
});

test('two clones are independent databases', async (t) => {
  const [a, b] = await Promise.all([fresh(), fresh()]);
  t.not(a.url, b.url);
  await sqlAt(a.url, 'CREATE TABLE only_in_a (x int)');
  t.is((await sqlAt(b.url, "SELECT to_regclass('only_in_a') AS t"))[0].t, null);
  t.not((await sqlAt(b.url, "SELECT to_regclass('skein.workflow_status') AS t"))[0].t, null);
});

test('six calls at once on a server without the template all succeed, and one template is built', async (t) => {
  const schema = freshSchema();
  schemas.push(schema);
  const template = await templateName(schema);
  t.deepEqual(await databases(template), []);
  const dbs = await Promise.all(Array.from({ length: 6 }, () => fresh({ schema })));
  t.is(new Set(dbs.map((d) => d.url)).size, 6);
  for (const db of dbs) {
    t.is((await sqlAt(db.url, `SELECT count(*)::int AS n FROM ${schema}.migrations`))[0].n, (await knownMigrations()).length);
  }
  t.deepEqual(await databases(`${template}%`), [template]); // no build left behind
  const [row] = await sqlAt(server, 'SELECT datistemplate, datallowconn FROM pg_database WHERE datname = $1', [template]);
  t.deepEqual(row, { datistemplate: true, datallowconn: false });
});

test('a half-made template a crashed builder left is never cloned: it is dropped and built again', async (t) => {
  const schema = freshSchema();
  schemas.push(schema);
  const template = await templateName(schema);
  const [{ db: via }] = await sqlAt(server, 'SELECT current_database() AS db');
  const build = buildName(template, via);
  await sqlAt(server, `CREATE DATABASE ${build}`);
  await sqlAt(urlOfDatabase(server, build), 'CREATE TABLE half_made (x int)');
  const db = await fresh({ schema });
  t.is((await sqlAt(db.url, "SELECT to_regclass('half_made') AS t"))[0].t, null);
  t.not((await sqlAt(db.url, `SELECT to_regclass('${schema}.workflow_status') AS t`))[0].t, null);
  t.deepEqual(await databases(`${template}%`), [template]);
});

test('drop removes the database, ends sessions still on it, and is idempotent', async (t) => {
  const db = await database({ url: server });
  const name = nameOf(db.url);
  const lingering = createPool(db.url, 1, () => {});
  await lingering.query('SELECT 1'); // an idle session left open, as a test's Skein might
  await Promise.all([db.drop(), db.drop()]);
  await db.drop();
  t.deepEqual(await databases(name), []);
  const err = await t.throwsAsync(sqlAt(db.url, 'SELECT 1'));
  t.is((err as { code?: string }).code, '3D000'); // invalid_catalog_name: no such database
  await lingering.end().catch(() => {});
});

test('the URL is the server URL with only the database changed', async (t) => {
  const given = new URL(server);
  given.searchParams.set('application_name', 'skein-testing');
  given.searchParams.set('sslmode', 'disable');
  const db = await fresh({ url: given.href });
  const got = new URL(db.url);
  for (const part of ['protocol', 'username', 'password', 'host', 'search'] as const) t.is(got[part], given[part]);
  t.regex(got.pathname, /^\/skein_test_[0-9a-f]{16}$/);
  t.deepEqual(await sqlAt(db.url, 'SELECT current_setting($1) AS a', ['application_name']), [{ a: 'skein-testing' }]);
  // without the option, SKEIN_DATABASE_URL names the server (read before database() first awaits)
  process.env.SKEIN_DATABASE_URL = server;
  const fromEnv = database();
  delete process.env.SKEIN_DATABASE_URL;
  const envDb = await fromEnv;
  made.push(envDb);
  t.is(new URL(envDb.url).port, new URL(server).port);
  // SKEIN_TEST_DATABASE_URL, a server for tests only, goes before the application's
  process.env.SKEIN_TEST_DATABASE_URL = server;
  process.env.SKEIN_DATABASE_URL = 'postgres://nobody@127.0.0.1:1/app';
  const forTests = database();
  delete process.env.SKEIN_TEST_DATABASE_URL;
  delete process.env.SKEIN_DATABASE_URL;
  made.push(await forTests);
    // pg's other two forms: a socket URL and a socket directory
  t.is(urlOfDatabase('socket:/run/postgresql?db=app&user=me', 'x'), 'socket:/run/postgresql?db=x&user=me');
  t.is(urlOfDatabase('/run/postgresql app', 'x'), '/run/postgresql x');
});

test('bad options are a ConfigError naming the option', async (t) => {
  const cases: [unknown, RegExp][] = [
    ['postgres://x', /database options must be an object/],
    [{ nope: 1 }, /unknown option database options\.nope; known: url, dataDir, schema/],
    [{ url: 5 }, /database options\.url must be a non-empty string/],
    [{ url: '' }, /database options\.url must be a non-empty string/],
    [{ dataDir: false }, /database options\.dataDir must be a non-empty string/],
    [{ schema: 'Bad-Name' }, /database options\.schema "Bad-Name" must match/],
    [{ schema: 'select' }, /database options\.schema "select" is a reserved keyword/],
    [{ url: 'localhost/db' }, /database options\.url is not a valid postgres:\/\/ URL: it has no postgres:\/\/ scheme/],
  ];
  for (const [options, message] of cases) {
    await t.throwsAsync(database(options as never), { instanceOf: ConfigError, message }, JSON.stringify(options));
  }
  // nothing listens on port 1: named, with the password hidden
  const err = await t.throwsAsync(database({ url: 'postgres://me:secret@127.0.0.1:1/postgres' }), {
    instanceOf: ConfigError,
    message: /^database options\.url: cannot connect to postgres:\/\/me:\*\*\*@127\.0\.0\.1:1\/postgres: /,
  });
  t.false(err!.message.includes('secret'));
  const several = await t.throwsAsync(database({ url: 'postgres://me:secret@h1:5432,h2:5432/db' }), {
    instanceOf: ConfigError,
    message: /^database options\.url \(postgres:\/\/me:\*\*\*@h1:5432,h2:5432\/db\) is a URL whose database skein cannot replace/,
  });
  t.false(several!.message.includes('secret'));
  // read before database() first awaits, so the variable is set only for this call
  process.env.SKEIN_DATABASE_URL = 'localhost/db';
  const fromEnv = database();
  delete process.env.SKEIN_DATABASE_URL;
  await t.throwsAsync(fromEnv, { instanceOf: ConfigError, message: /^SKEIN_DATABASE_URL is not a valid postgres:\/\/ URL/ });
});

/** A data directory under the one `npm test` sweeps, so a killed run leaves no server. */
function dataDirFor(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(process.env.SKEIN_TEST_SERVERS_DIR ?? tmpdir(), 'skein-testing-'));
  chmodSync(dir, 0o755); // else, as root, the data would move to where `postgres` can reach it
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'db');
}

test('with no URL: the embedded Postgres in dataDir, shared by every caller, stopped by the last drop', async (t) => {
  const dataDir = dataDirFor(t);
  const [a, b] = await Promise.all([database({ dataDir }), database({ dataDir })]);
  t.teardown(() => Promise.all([a.drop(), b.drop()]));
  t.is(new URL(a.url).port, new URL(b.url).port);
  t.not((await sqlAt(a.url, "SELECT to_regclass('skein.workflow_status') AS t"))[0].t, null);
  t.not(runningPostmaster(join(dataDir, 'pgdata')), null);
  await a.drop();
  // b's process (here the same one) still holds the server, though a started it
  t.deepEqual(await sqlAt(b.url, 'SELECT 1 AS one'), [{ one: 1 }]);
  await b.drop();
  t.is(runningPostmaster(join(dataDir, 'pgdata')), null);
  await t.throwsAsync(sqlAt(urlOfDatabase(b.url, 'postgres'), 'SELECT 1'), { code: 'ECONNREFUSED' });
});

test('with no URL: processes starting on one fresh dataDir at once all get a database (one initdb)', async (t) => {
  const dataDir = dataDirFor(t);
  // each process makes its database, says on which port, and drops it when told to (all have one)
  const script = `
    const { database } = await import(${JSON.stringify(new URL('../../runtime/testing/index.ts', import.meta.url).pathname)});
    const db = await database({ dataDir: process.argv[1] });
    process.stdout.write(new URL(db.url).port + '\\n');
    process.stdin.once('data', () => db.drop().then(() => process.exit(0)));`;
  const children = [1, 2, 3].map(() => {
    const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', script, dataDir], {
      env: { ...process.env, SKEIN_LOG: 'error' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    t.teardown(() => void child.kill('SIGKILL'));
    return child;
  });
  const ports = await within(
    Promise.all(
      children.map((child) =>
        Promise.race([
          once(child.stdout!, 'data').then(([chunk]) => String(chunk).trim()),
          once(child, 'exit').then(([code]) => Promise.reject(new Error(`a process exited (${code}) before it had a database`))),
        ]),
      ),
    ),
    50_000,
    'three processes each getting a database',
  );
  t.is(new Set(ports).size, 1, `one server: ${ports.join(', ')}`);
  const exits = children.map((child) => once(child, 'exit'));
  for (const child of children) child.stdin!.end('drop\n');
  t.deepEqual((await within(Promise.all(exits), 30_000, 'the three processes ending')).map(([code]) => code), [0, 0, 0]);
  t.is(runningPostmaster(join(dataDir, 'pgdata')), null, 'the last process out stopped it');
});
