// Which database a command runs on: --db, else SKEIN_DATABASE_URL, else DATABASE_URL, else the
// embedded Postgres of --data-dir (default .skein/ in the working directory), which is what a
// local app, or `npm run demo`, leaves there. The embedded server is joined when a live process
// runs it, else started for the command and stopped after it. A directory where no server was
// ever initialised is refused, except by `migrate`: a typo in --data-dir must not leave an empty
// cluster behind, nor show "no workflows" for an app whose data is elsewhere.
import { resolve } from 'node:path';
import { ConfigError } from '../../common/errors.ts';
import { hasEmbeddedData, startEmbeddedPostgres } from '../../storage/embedded.ts';
import { Client } from '../client.ts';
import type { Cli } from './context.ts';

/** Where the URL came from, as messages name it. */
interface Source {
  url?: string;
  label: string;
}

function urlSource(db: string | undefined): Source {
  if (db !== undefined) return { url: db, label: '--db' };
  if (process.env.SKEIN_DATABASE_URL) return { url: process.env.SKEIN_DATABASE_URL, label: 'SKEIN_DATABASE_URL' };
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, label: 'DATABASE_URL' };
  return { label: 'the embedded Postgres' };
}

/**
 * Runs `fn` with the URL of the command's database, then stops the embedded server if this
 * command started it. `create`: a data directory with no server yet gets one (`migrate`).
 */
export async function withDatabase<T>(cli: Cli, opts: { create?: boolean }, fn: (url: string) => Promise<T>): Promise<T> {
  const { logger, options } = cli;
  const source = urlSource(options.db);
  if (source.url !== undefined) {
    logger.debug(`database: from ${source.label}`);
    return relabelled(source.label, () => fn(source.url!));
  }
  const dataDir = resolve(options.dataDir);
  if (!opts.create && !hasEmbeddedData(dataDir)) {
    throw new ConfigError(
      `no database: no embedded Postgres in ${dataDir} (nothing ran skein with that data directory). ` +
        'Pass --db <url> or set SKEIN_DATABASE_URL, or --data-dir <dir> where your app keeps its data',
    );
  }
  const started = Date.now();
  const server = await startEmbeddedPostgres(dataDir, { logger });
  logger.debug(`database: the embedded Postgres in ${dataDir} (${server.owned ? 'started for this command' : 'run by another process'})`, {
    ms: Date.now() - started,
  });
  try {
    return await fn(server.url);
  } finally {
    await server.stop();
  }
}

/** Runs `fn` with a Client on the command's database and schema, closed after it. */
export function withClient<T>(cli: Cli, fn: (client: Client) => Promise<T>): Promise<T> {
  return withDatabase(cli, {}, async (databaseUrl) => {
    const started = Date.now();
    const client = await Client.connect({ databaseUrl, schema: cli.options.schema, logger: cli.logger });
    cli.logger.debug('database: connected', { schema: cli.options.schema, ms: Date.now() - started });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  });
}

/**
 * `fn`, with the library's name for a URL it was given (config.databaseUrl) replaced in its
 * errors by where the CLI read it: the user typed --db, not a config object.
 */
async function relabelled<T>(label: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ConfigError && err.message.includes('config.databaseUrl')) {
      throw new ConfigError(err.message.replaceAll('config.databaseUrl', label), { cause: err.cause });
    }
    throw err;
  }
}
