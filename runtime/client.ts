// Client: talks to skein workflows from another process (a web server, a script, a CLI) without
// running any. It needs the schema a Skein created at launch.
import { createPool } from '../storage/database.ts';
import { validateSchemaName } from '../storage/identifiers.ts';
import { notifyChannel } from '../storage/messages.ts';
import { GroupCommitWriter } from '../storage/writer.ts';
import { ConfigError } from '../threads/errors.ts';
import { CommonApi } from './common-api.ts';
import { Waiters } from './waiters.ts';

export interface ClientConfig {
  /** default: SKEIN_DATABASE_URL, then DATABASE_URL */
  databaseUrl?: string;
  schema?: string;
}

export class Client extends CommonApi {
  #closed: Promise<void> | null = null;

  static async connect(config: ClientConfig = {}): Promise<Client> {
    const databaseUrl = config.databaseUrl ?? (process.env.SKEIN_DATABASE_URL || process.env.DATABASE_URL);
    if (!databaseUrl) {
      throw new ConfigError('Client.connect needs config.databaseUrl (or SKEIN_DATABASE_URL / DATABASE_URL)');
    }
    const schema = validateSchemaName(config.schema ?? 'skein');
    const log = (m: string) => console.error(m);
    const pool = createPool(databaseUrl, 4, (err) => log(`skein client: idle connection: ${err.message}`));
    try {
      const { rows } = await pool.query('SELECT to_regclass($1) AS t', [`${schema}.workflow_status`]);
      if (!rows[0].t) {
        throw new ConfigError(`schema '${schema}' has no skein tables: launch a Skein on this database first`);
      }
      const waiters = await Waiters.connect(databaseUrl, notifyChannel(schema), { log });
      return new Client({ pool, schema, writer: new GroupCommitWriter(pool, schema), waiters, errorClasses: new Map() });
    } catch (err) {
      await pool.end();
      throw err;
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.closeCommon();
    return this.#closed;
  }
}
