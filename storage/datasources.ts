// The databases ctx.transaction writes to (SkeinConfig.datasources), prepared at launch: each
// gets skein's transaction_outputs table, the one thing skein keeps there, from the same
// migration file that gives it to the system schema (storage/migrations/0006). Only its
// preparation runs here, on the main thread; the transactions themselves run on the worker
// threads (datasources/transaction.ts).
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { ConfigError } from '../common/errors.ts';
import { redactUrl, shapeProblem } from './connect.ts';
import { validateSchemaName } from './identifiers.ts';

const TABLE_MIGRATION = new URL('./migrations/0006_transaction_outputs.sql', import.meta.url);

/** What launch learns of a datasource for its threads. */
export interface PreparedDatasource {
  /** the server has client_connection_check_interval (Postgres 14+) */
  connectionCheck: boolean;
}

/**
 * Creates `schema` and its transaction_outputs table in the database at `url` if they are not
 * there. Idempotent, under an advisory lock so that processes launching together do not
 * collide on CREATE. Any failure is a ConfigError naming the datasource (password hidden).
 */
export async function prepareDatasource(name: string, url: string, schemaName: string, connectTimeoutMs: number): Promise<PreparedDatasource> {
  const schema = validateSchemaName(schemaName);
  const ddl = (await readFile(TABLE_MIGRATION, 'utf8')).replaceAll('{{schema}}', schema);
  const problem = shapeProblem(url, redactUrl(url));
  if (problem) throw new ConfigError(`config.datasources.${name}.url is not a valid postgres:// URL: ${problem}; got ${JSON.stringify(redactUrl(url))}`);
  let client: pg.Client;
  try {
    client = new pg.Client({ connectionString: url, application_name: 'skein', connectionTimeoutMillis: connectTimeoutMs });
  } catch (err) {
    // no cause: the parser's error carries the raw URL, password included
    throw new ConfigError(`config.datasources.${name}.url is not a valid postgres:// URL: ${(err as Error).message}`);
  }
  client.on('error', () => {}); // a failure mid-query rejects the query; unhandled it is fatal
  try {
    await client.connect();
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`skein.datasource.${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(ddl);
    await client.query('COMMIT');
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    return { connectionCheck: Number(rows[0]!.v) >= 140000 };
  } catch (err) {
    throw new ConfigError(
      `config.datasources.${name}: cannot prepare the database at ${redactUrl(url)} for transactions ` +
        `(skein keeps a table ${schema}.transaction_outputs there): ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => {});
  }
}
