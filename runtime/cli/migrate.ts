// `skein migrate`: brings skein's schema up to date on the database, as every launch does, for
// deploys that migrate as a step of their own, and before a Client is the first to use a
// database. With --datasource, also prepares a database that ctx.transaction writes to.
import type { Command } from 'commander';
import { ConfigError } from '../../common/errors.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../../common/options.ts';
import { checkDatabase, redactUrl } from '../../storage/connect.ts';
import { createPool } from '../../storage/database.ts';
import { prepareDatasource } from '../../storage/datasources.ts';
import { errorField } from '../../common/logger.ts';
import { knownMigrations, migrate } from '../../storage/migrate.ts';
import { action, type Cli } from './context.ts';
import { withDatabase } from './database.ts';
import { repeated } from './parse.ts';

export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description("create or upgrade skein's tables in the database (every launch does it too); an embedded data directory is initialised if it has none")
    .option('--datasource <url>', 'also prepare this database for ctx.transaction (repeatable)', repeated)
    .action(action<{ datasource?: string[] }>(run));
}

async function run(cli: Cli, o: { datasource?: string[] }): Promise<void> {
  const { schema } = cli.options;
  const applied = await withDatabase(cli, { create: true }, async (url) => {
    await checkDatabase(url, { given: url, timeoutMs: DEFAULT_CONNECT_TIMEOUT_MS, embeddedFallback: false });
    const pool = createPool(url, 1, (err) => cli.logger.warn('skein migrate: an idle database connection failed', { error: errorField(err) }));
    try {
      return await migrate(pool, schema);
    } finally {
      await pool.end();
    }
  });
  const known = await knownMigrations();
  const names = known.filter((m) => applied.includes(m.version)).map((m) => m.name);
  const datasources: string[] = [];
  for (const url of o.datasource ?? []) {
    try {
      await prepareDatasource('app', url, schema, DEFAULT_CONNECT_TIMEOUT_MS);
    } catch (err) {
      // its message names the config key a launch reads (config.datasources.app): here it was --datasource
      if (err instanceof ConfigError) throw new ConfigError(err.message.replace(/config\.datasources\.app(\.url)?/, '--datasource'), { cause: err.cause });
      throw err;
    }
    datasources.push(redactUrl(url));
  }
  cli.show({ schema, applied: names, datasources }, () => {
    const lines = [
      names.length
        ? `schema ${schema}: applied ${names.join(', ')}`
        : `schema ${schema} is up to date (${known.length} migrations): nothing to apply`,
    ];
    for (const d of datasources) lines.push(`datasource ${d}: ${schema}.transaction_outputs is there`);
    return lines.join('\n');
  });
}
