// `skein dashboard`: the admin server's page and JSON API on a database, without running any
// workflow: through a Client, as the other commands, so it may run beside the services (or
// with none up) and see everything they recorded. No /metrics: those are a running service's.
// It serves until SIGINT or SIGTERM.
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ConfigError } from '../../common/errors.ts';
import { errorField } from '../../common/logger.ts';
import { SKEIN_CONFIG } from '../../common/options.ts';
import { createPool } from '../../storage/database.ts';
import { AdminServer } from '../admin.ts';
import { Client } from '../client.ts';
import { DashboardApi } from '../dashboard/api.ts';
import { action, type Cli } from './context.ts';
import { withDatabase } from './database.ts';
import { nonNegativeInteger } from './parse.ts';

interface DashboardOptions {
  port: number;
  host: string;
  token?: string;
}

function port(text: string): number {
  const n = nonNegativeInteger(text);
  if (n > 65_535) throw new InvalidArgumentError('expected a port from 0 to 65535 (0: any free port)');
  return n;
}

export function dashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('serve the dashboard (web page and JSON API) on this database until Ctrl-C; it runs no workflows')
    .option('--port <port>', 'port to listen on (0: any free one)', port, 3210)
    .option('--host <host>', 'address to listen on; any but 127.0.0.1, ::1 and localhost needs a token', '127.0.0.1')
    .option('--token <token>', 'a token every request must carry (default: SKEIN_DASHBOARD_TOKEN)')
    .action(action<DashboardOptions>(run));
}

/** The admin config, checked by SkeinConfig.admin's own rule, its messages naming the options. */
function adminConfig(o: DashboardOptions): { port: number; host: string; token?: string } {
  const token = o.token ?? (process.env.SKEIN_DASHBOARD_TOKEN || undefined);
  const config = { port: o.port, host: o.host, ...(token === undefined ? {} : { token }) };
  try {
    SKEIN_CONFIG.known.admin!('admin', config);
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new ConfigError(err.message.replace(/\badmin\.(token|host)\b/, (_m, key: string) => (key === 'token' ? '--token (or SKEIN_DASHBOARD_TOKEN)' : '--host')));
    }
    throw err;
  }
  return config;
}

async function run(cli: Cli, o: DashboardOptions): Promise<void> {
  const config = adminConfig(o);
  const { schema } = cli.options;
  await withDatabase(cli, {}, async (databaseUrl) => {
    const client = await Client.connect({ databaseUrl, schema, logger: cli.logger });
    // the reads a Client has no call for (storage/inspect.ts); two connections are plenty
    const pool = createPool(databaseUrl, 2, (err) => cli.logger.warn('skein dashboard: an idle database connection failed', { error: errorField(err) }));
    try {
      const api = new DashboardApi({ api: client, pool, schema });
      const server = await AdminServer.start(config, { api }, cli.logger);
      const url = config.token === undefined ? `${server.url}/` : `${server.url}/?token=${encodeURIComponent(config.token)}`;
      cli.show({ url }, () => `skein dashboard: ${url}\n(Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
    } finally {
      await pool.end();
      await client.close();
    }
  });
}
