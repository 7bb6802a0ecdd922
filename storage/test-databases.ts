// Throwaway databases for tests (skein/testing's database()): each one a copy of a template that
// skein's migrations already ran on, so a test file gets a ready database from one CREATE DATABASE
// instead of a migration run (bench/test-database.ts measures both). The template is named after
// what it holds (the schema and a hash of the migrations), built once per server, and only ever
// seen whole: it is built under another name and renamed when done, so a builder that crashed
// halfway leaves nothing a clone could start from. Needs Postgres 13+ (DROP DATABASE ... FORCE).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { ConfigError } from '../common/errors.ts';
import { redactUrl } from './connect.ts';
import { createPool } from './database.ts';
import { validateSchemaName } from './identifiers.ts';
import { knownMigrations, migrate } from './migrate.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/** The names this module makes and drops: generated, so they never need more than this. */
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function quoted(name: string): string {
  if (!DATABASE_NAME.test(name)) throw new Error(`not a database name skein makes: ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/**
 * `serverUrl` with its database replaced by `name`; user, password, host, port and parameters
 * kept. pg's three forms: a URL (the path), `socket:` (the `db` parameter), `/dir name`.
 */
export function urlOfDatabase(serverUrl: string, name: string): string {
  if (/^socket:/i.test(serverUrl)) {
    const url = new URL(serverUrl);
    url.searchParams.set('db', name);
    return url.href;
  }
  if (serverUrl.startsWith('/')) return `${serverUrl.split(' ')[0]} ${name}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.href;
}

const templates = new Map<string, Promise<string>>();

/**
 * The template of `schema`: `skein_tpl_` and a hash of the schema name and every migration's
 * name and text, so a changed migration (edited in place while developing skein) gets a new
 * template instead of a stale copy. Old templates are left where they are.
 */
export function templateName(schema: string): Promise<string> {
  let name = templates.get(schema);
  if (!name) {
    name = (async () => {
      const hash = createHash('sha256').update(validateSchemaName(schema));
      for (const m of await knownMigrations()) {
        hash.update(`\0${m.name}\0`).update(await readFile(new URL(m.name, MIGRATIONS_DIR)));
      }
      return `skein_tpl_${hash.digest('hex').slice(0, 16)}`;
    })();
    templates.set(schema, name);
  }
  return name;
}

/**
 * One session on the server's own database (the one `serverUrl` names), closed after `fn`. Not
 * reaching it is a ConfigError: the URL (or the server) is wrong, not the caller's code.
 */
async function onServer<T>(serverUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: 'skein' });
  client.on('error', () => {}); // a failure mid-query rejects that query; unhandled it is fatal
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new ConfigError(`cannot connect to ${redactUrl(serverUrl)}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function exists(client: pg.Client, name: string): Promise<{ template: boolean } | null> {
  const { rows } = await client.query<{ datistemplate: boolean }>(
    'SELECT datistemplate FROM pg_database WHERE datname = $1',
    [name],
  );
  return rows[0] ? { template: rows[0].datistemplate } : null;
}

/** Drops `name` if it exists, template or not, whoever is connected to it. */
async function dropOn(client: pg.Client, name: string): Promise<void> {
  // Postgres refuses to drop a template ("cannot drop a template database")
  if ((await exists(client, name))?.template) await client.query(`ALTER DATABASE ${quoted(name)} WITH IS_TEMPLATE false`);
  await client.query(`DROP DATABASE IF EXISTS ${quoted(name)} WITH (FORCE)`);
}

/**
 * Where the template is built by the processes that reach the server through the database
 * `via` (and so share its advisory lock): one such builder at a time.
 */
export function buildName(template: string, via: string): string {
  return `${template}_b${createHash('sha256').update(via).digest('hex').slice(0, 8)}`;
}

/**
 * Makes the template of `schema` unless it is there. Under a session advisory lock, so of many
 * processes (ava runs a process per test file) one builds and the others wait for it. Advisory
 * locks belong to one database, so builders that reach the server through different databases do
 * not exclude each other: each builds under a name of its own, and the rename tells who won.
 */
async function ensureTemplate(client: pg.Client, serverUrl: string, schema: string): Promise<string> {
  const template = await templateName(schema);
  if (await exists(client, template)) return template;
  const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
  const build = buildName(template, rows[0]!.db);
  const key = `skein.test-template.${template}`;
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
  try {
    if (await exists(client, template)) return template; // built while this one waited
    await dropOn(client, build); // what a builder that crashed left; only a lock holder builds it
    await client.query(`CREATE DATABASE ${quoted(build)}`);
    const pool = createPool(urlOfDatabase(serverUrl, build), 1, () => {});
    try {
      await migrate(pool, schema);
    } finally {
      await pool.end();
    }
    // nobody can connect to it from now on, so no session ever blocks a clone
    // ("source database is being accessed by other users")
    await client.query(`ALTER DATABASE ${quoted(build)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    try {
      await client.query(`ALTER DATABASE ${quoted(build)} RENAME TO ${quoted(template)}`);
    } catch (err) {
      if ((err as { code?: string }).code !== '42P04') throw err; // duplicate_database
      await dropOn(client, build); // another builder, through another database, finished first
    }
    return template;
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => {});
  }
}

/** Creates `name` on the server of `serverUrl` with `schema` migrated: a copy of its template. */
export async function cloneDatabase(serverUrl: string, name: string, schema: string): Promise<void> {
  await onServer(serverUrl, async (client) => {
    const template = await ensureTemplate(client, serverUrl, schema);
    await client.query(`CREATE DATABASE ${quoted(name)} TEMPLATE ${quoted(template)}`);
  });
}

/** Creates an empty database `name` (from the server's default template). */
export async function createDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, (client) => client.query(`CREATE DATABASE ${quoted(name)}`));
}

/** Drops `name`, ending the sessions still on it (a test's leftover pool); no error if gone. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await onServer(serverUrl, (client) => dropOn(client, name));
}

/** Makes the template of `schema` now if it is missing (a benchmark's warm-up); its name. */
export async function prepareTemplate(serverUrl: string, schema: string): Promise<string> {
  return onServer(serverUrl, (client) => ensureTemplate(client, serverUrl, schema));
}

/**
 * An idle session on the server, until closed. The embedded server's owner stops it at its
 * stop() only when no other process is connected, and a test process may sit between its
 * database() and its first Skein with no connection open: this keeps it counted.
 */
export async function holdSession(serverUrl: string): Promise<{ close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: 'skein' });
  client.on('error', () => {}); // the server going away is the owner's business
  await client.connect();
  return { close: () => client.end().catch(() => {}) };
}

