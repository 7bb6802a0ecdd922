// The datasources of this worker thread (SkeinConfig.datasources, handed over in workerData by
// the dispatcher): a small pg pool each, opened at the thread's first transaction on it, so a
// thread that runs no transaction loads no pg and opens no connection.
import type { Pool } from 'pg';
import type { DatasourcesData } from '../common/protocol.ts';

/** How often Postgres checks, during a statement, that a datasource connection's thread is alive. */
const CONNECTION_CHECK_MS = 1000;

let data: DatasourcesData = { sources: {}, schema: 'skein', connectTimeoutMs: 10_000 };
const pools = new Map<string, Promise<Pool>>();

export function configureDatasources(given: DatasourcesData | undefined): void {
  if (given) data = given;
}

export function datasourceNames(): string[] {
  return Object.keys(data.sources);
}

export function transactionSchema(): string {
  return data.schema;
}

/** This thread's pool for datasource `name` (which must be one of datasourceNames()). */
export function datasourcePool(name: string): Promise<Pool> {
  let pool = pools.get(name);
  if (!pool) {
    const spec = data.sources[name]!;
    pool = import('pg').then(({ default: pg }) => {
      const connectionTimeoutMillis = data.connectTimeoutMs;
      const p = new pg.Pool({
        connectionString: spec.url,
        max: spec.poolSize,
        application_name: 'skein',
        // the connect timeout on the client, not the pool's: pg-pool applies its own also to a
        // checkout queued behind busy connections, which is a wait for a turn, not a failure
        Client: class extends pg.Client {
          constructor(config?: ConstructorParameters<typeof pg.Client>[0]) {
            super({ ...(config as object), connectionTimeoutMillis });
          }
        },
      });
      // A server restart ends idle connections ('error' on the pool) and checked-out ones
      // between queries ('error' on the client); unhandled, either would end the thread. The
      // query in progress still rejects, and the next checkout opens a fresh connection.
      p.on('error', () => {});
      p.on('connect', (client) => {
        client.on('error', () => {});
        // A thread ended mid-transaction (killThread, a force cancel, a step past its timeout
        // on the same thread) closes its sockets, but Postgres notices a gone client only when
        // it next reads from it: a long statement would run on, holding its locks, until it
        // ended. Checked every second, the backend aborts it and rolls back (Postgres 14+;
        // older servers refuse the setting, which only costs this statement). Queued before
        // any query of the checkout.
        client.query(`SET client_connection_check_interval = ${CONNECTION_CHECK_MS}`).catch(() => {});
      });
      return p;
    });
    pools.set(name, pool);
  }
  return pool;
}
