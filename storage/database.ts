import pg from 'pg';

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
  opts: { synchronousCommit?: boolean } = {},
): Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    application_name: 'skein',
    // a startup parameter: every session of this pool commits without waiting for the flush
    options: opts.synchronousCommit === false ? '-c synchronous_commit=off' : undefined,
  });
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
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

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  '57P01', // admin_shutdown: the backend was terminated or the server is stopping
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting up
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);

/**
 * Whether an error is the database being briefly unavailable (connection lost, server
 * restarting) rather than a problem with the request: worth retrying after a pause.
 */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code.startsWith('08') || TRANSIENT_CODES.has(code)) return true;
  return /Connection terminated|Client has encountered a connection error|not queryable/i.test(
    String(e?.message ?? ''),
  );
}
