// database(): a fresh database for one test file, with skein's tables already made. ava runs
// each test file in a process of its own, so the usual shape is
//   const db = await database(); test.after.always(() => db.drop());
// and Skein.launch({ databaseUrl: db.url, ... }). Every database is a copy of a template migrated
// once per server (storage/test-databases.ts), so launch's migration finds nothing to do.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import { checkOptions, type OptionShape } from '../../common/options.ts';
import { checkText } from '../../common/validate.ts';
import { redactUrl, shapeProblem } from '../../storage/connect.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../storage/embedded.ts';
import { validateSchemaName } from '../../storage/identifiers.ts';
import { cloneDatabase, dropDatabase, holdSession, urlOfDatabase } from '../../storage/test-databases.ts';

export interface TestDatabaseOptions {
  /**
   * The server to create it on, as a postgres:// URL (its own database is only where the
   * CREATE DATABASE runs); default SKEIN_TEST_DATABASE_URL (a server for tests only), then
   * SKEIN_DATABASE_URL, then DATABASE_URL, else the embedded Postgres in dataDir
   */
  url?: string;
  /** where the embedded Postgres keeps its data; default `.skein/` in the working directory */
  dataDir?: string;
  /** the schema skein's tables are in, as SkeinConfig.schema; default 'skein' */
  schema?: string;
}

export interface TestDatabase {
  /** the database's connection string: the server's, with only the database name changed */
  readonly url: string;
  /** drops the database (ending sessions still on it) and leaves the embedded server; idempotent */
  drop(): Promise<void>;
}

const AT = 'database options';

const path = (at: string, v: unknown) => void checkText(at, v, 4096);

const TEST_DATABASE_OPTIONS: OptionShape = {
  known: {
    url: path,
    dataDir: path,
    // the identifier rules (storage/identifiers.ts) name the option as SkeinConfig's
    schema: (at, v) => {
      try {
        validateSchemaName(v);
      } catch (err) {
        throw err instanceof ConfigError ? new ConfigError(err.message.replace(/^config\.schema/, at)) : err;
      }
    },
  },
};

/** The server's URL and what to call it in messages: the option, or the variable it came from. */
function serverOf(options: TestDatabaseOptions): { url: string; label: string } | null {
  if (options.url !== undefined) return { url: options.url, label: `${AT}.url` };
  for (const variable of ['SKEIN_TEST_DATABASE_URL', 'SKEIN_DATABASE_URL', 'DATABASE_URL']) {
    const url = process.env[variable];
    if (url) return { url, label: variable };
  }
  return null;
}

/** Creates a database of its own for the caller (a test file); see TestDatabaseOptions. */
export async function database(options?: TestDatabaseOptions): Promise<TestDatabase> {
  const o = checkOptions<TestDatabaseOptions>(AT, options, TEST_DATABASE_OPTIONS);
  const schema = o.schema ?? 'skein';
  const given = serverOf(o);
  if (given) {
    const problem = shapeProblem(given.url, redactUrl(given.url));
    if (problem) throw new ConfigError(`${given.label} is not a valid postgres:// URL: ${problem}`);
  }
  const embedded: EmbeddedPostgres | null = given ? null : await startEmbeddedPostgres(resolve(o.dataDir ?? '.skein'));
  const serverUrl = given?.url ?? embedded!.url;
  const name = `skein_test_${randomBytes(8).toString('hex')}`;
  let url: string;
  try {
    url = urlOfDatabase(serverUrl, name);
  } catch {
    // no cause: the URL parser's TypeError carries the raw URL, password included, as `input`
    await embedded?.stop();
    throw new ConfigError(`${given!.label} (${redactUrl(serverUrl)}) is a URL whose database skein cannot replace (several hosts?)`);
  }
  let held: { close(): Promise<void> } | undefined;
  try {
    if (embedded) held = await holdSession(serverUrl);
    await cloneDatabase(serverUrl, name, schema);
  } catch (err) {
    await held?.close();
    await embedded?.stop();
    throw err instanceof ConfigError && given ? new ConfigError(`${given.label}: ${err.message}`, { cause: err.cause }) : err;
  }
  let dropped: Promise<void> | undefined;
  return {
    url,
    drop: () =>
      (dropped ??= (async () => {
        try {
          await dropDatabase(serverUrl, name);
        } finally {
          await held?.close();
          await embedded?.stop();
        }
      })()),
  };
}
