import pg from 'pg';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../common/options.ts';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * A pg pool whose connection errors are reported instead of crashing the process. When a
 * backend dies, pg emits 'error' on the pool for an idle client but on the client itself for a
 * checked-out one between queries (a writer mid-transaction); unhandled, either is fatal. The
 * query in progress, if any, still rejects, and a broken client is discarded on release.
 */
export function createPool(
  connectionString: string,
  max: number,
  onError: (e: Error) => void,
  opts: { synchronousCommit?: boolean; connectTimeoutMs?: number } = {},
): Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    Client: clientTimingOut(opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
    application_name: 'skein',
    // a startup parameter: every session of this pool commits without waiting for the flush
    options: opts.synchronousCommit === false ? '-c synchronous_commit=off' : undefined,
  });
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * pg's Client with a connect timeout, so a new connection to a server gone silent fails (as
 * transient) instead of waiting forever. Set on the client, not as the pool's
 * connectionTimeoutMillis: pg-pool applies that one also to checkouts queued behind busy
 * connections, which under load is a wait for a turn, not a failure.
 */
function clientTimingOut(connectionTimeoutMillis: number): new () => pg.Client {
  return class extends pg.Client {
    constructor(config?: pg.ClientConfig) {
      super({ ...config, connectionTimeoutMillis });
    }
  };
}

/** Runs `fn` in a transaction on one pooled client. */
export async function withTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.release(broken);
  }
}
