import pg from 'pg';
import { DEFAULT_CONNECT_TIMEOUT_MS } from './connect.ts';

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
  // 'timeout expired': pg's connect timeout (clientTimingOut), which carries no code
  return /Connection terminated|Client has encountered a connection error|not queryable|^timeout expired$/i.test(
    String(e?.message ?? ''),
  );
}

/**
 * Whether an error on an idle connection is the server ending it on purpose (a shutdown or
 * restart, pg_terminate_backend): the pool drops that connection and the next query opens
 * another, so nothing is lost and nobody needs to be told at the default log level.
 */
export function isServerGoodbye(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '57P01' || code === '57P02' || code === '57P03';
}
