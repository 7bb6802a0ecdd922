import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * A pg pool whose idle-client errors are reported instead of crashing the process (pg emits
 * 'error' on the pool when a backend dies between queries; unhandled, that is fatal).
 */
export function createPool(connectionString: string, max: number, onError: (e: Error) => void): Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: 'skein' });
  pool.on('error', onError);
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
