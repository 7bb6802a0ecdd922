// The datasources of this worker thread (SkeinConfig.datasources, handed over in workerData by
// the dispatcher): a small pg pool each, opened at the thread's first transaction on it, so a
// thread that runs no transaction loads no pg and opens no connection.
import type { Pool } from 'pg';
import type { DatasourceSpec, DatasourcesData } from '../common/protocol.ts';

let data: DatasourcesData = { sources: {}, schema: 'skein', connectTimeoutMs: 10_000 };
const pools = new Map<string, Promise<Datasource>>();

/** A datasource as a transaction uses it. */
export interface Datasource {
  pool: Pool;
  spec: DatasourceSpec;
  /** pg's class of errors the server sent: only those, from the function, can be a conflict to retry */
  DatabaseError: new (...args: never[]) => Error;
}

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
export function datasource(name: string): Promise<Datasource> {
  let source = pools.get(name);
  if (!source) {
    const spec = data.sources[name]!;
    source = import('pg').then(({ default: pg }) => {
      const connectionTimeoutMillis = data.connectTimeoutMs;
      const pool = new pg.Pool({
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
      pool.on('error', () => {});
      pool.on('connect', (client) => client.on('error', () => {}));
      return { pool, spec, DatabaseError: pg.DatabaseError as unknown as Datasource['DatabaseError'] };
    });
    pools.set(name, source);
  }
  return source;
}
