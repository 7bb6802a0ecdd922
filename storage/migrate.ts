// Versioned migrations: numbered .sql files applied in order, once, inside one transaction
// under an advisory lock, so several processes launching at once apply each exactly once.
// A schema this code does not recognise (migrated by a newer skein, or by another migration
// set) is refused in that same transaction, before anything is applied: nothing is written.
import { readdir, readFile } from 'node:fs/promises';
import { ConfigError } from '../common/errors.ts';
import { withTransaction, type Pool } from './database.ts';
import { validateSchemaName } from './identifiers.ts';

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

interface Migration {
  version: number;
  name: string;
  sql: string;
}

async function readMigrations(): Promise<Migration[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  // "this version knows N" means 1..N, each once: anything else is a packaging mistake
  files.forEach((file, i) => {
    if (Number(file.slice(0, 4)) !== i + 1) {
      throw new Error(`skein migrations are not numbered 1..${files.length} in order: ${files.join(', ')}`);
    }
  });
  if (files.length === 0) throw new Error(`no skein migrations found in ${MIGRATIONS_DIR.pathname}`);
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 4)),
      name: file,
      sql: await readFile(new URL(file, MIGRATIONS_DIR), 'utf8'),
    })),
  );
}

/** The migrations this version of skein knows, in order: `migrate` returns the versions it applied. */
export async function knownMigrations(): Promise<{ version: number; name: string }[]> {
  return (await readMigrations()).map(({ version, name }) => ({ version, name }));
}

interface Recorded {
  version: number;
  name: string;
}

/**
 * Throws a ConfigError unless `recorded` (the schema's migrations rows, by version) is a
 * prefix of `migrations`: what this code itself would have left. Migrations are never rolled
 * back, so a version above the highest known means a newer skein migrated the schema; a known
 * version under another file name, or a gap (a version missing below a recorded one), means
 * the table was written by something else (another migration set, a hand edit), and applying
 * ours on top would be a guess. Only the schema name and migration numbers/names are told:
 * never the connection string.
 */
function refuseUnknownSchema(schema: string, recorded: Recorded[], migrations: Migration[]): void {
  const latest = migrations[migrations.length - 1]!;
  const top = recorded[recorded.length - 1];
  if (top && top.version > latest.version) {
    throw new ConfigError(
      `schema ${schema} is at migration ${top.version} (${top.name}); this version of skein knows ` +
        `migrations up to ${latest.version} (${latest.name}): upgrade skein. The schema was migrated ` +
        `by a newer skein and is left as it is (skein never migrates down)`,
    );
  }
  const byVersion = new Map(migrations.map((m) => [m.version, m]));
  for (const row of recorded) {
    const known = byVersion.get(row.version);
    if (!known || known.name !== row.name) {
      throw new ConfigError(
        `schema ${schema} records migration ${row.version} as '${row.name}', which this version of ` +
          `skein does not know${known ? ` (its migration ${row.version} is '${known.name}')` : ''}: ` +
          `the schema was migrated by another migration set; nothing was changed`,
      );
    }
  }
  const missing = migrations.filter((m) => m.version < (top?.version ?? 0) && !recorded.some((r) => r.version === m.version));
  if (missing.length > 0) {
    throw new ConfigError(
      `schema ${schema} records migration ${top!.version} but not ${missing.map((m) => m.version).join(', ')}: ` +
        `its migrations table was not written by skein's in-order migrations; nothing was changed`,
    );
  }
}

/** Brings `schema` up to date; returns the versions it applied. */
export async function migrate(pool: Pool, schemaName: string): Promise<number[]> {
  const schema = validateSchemaName(schemaName);
  const migrations = await readMigrations();
  return withTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`skein.migrate.${schema}`]);
    // both no-ops on an existing schema; on a refusal below the rollback undoes them anyway
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.migrations (
         version integer PRIMARY KEY, name text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<Recorded>(
      `SELECT version, name FROM ${schema}.migrations ORDER BY version`,
    );
    // under the lock: a racing launch either finished before us (its rows are read here) or
    // waits for this transaction, so the check and the migrations see one state
    refuseUnknownSchema(schema, rows, migrations);
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql.replaceAll('{{schema}}', schema));
      await client.query(`INSERT INTO ${schema}.migrations (version, name) VALUES ($1, $2)`, [
        m.version,
        m.name,
      ]);
      done.push(m.version);
    }
    return done;
  });
}

/** Whether `schema` holds skein's tables: a Client needs a schema some Skein migrated. */
export async function hasSchema(pool: Pool, schema: string): Promise<boolean> {
  const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${schema}.workflow_status`]);
  return rows[0]?.t != null;
}
