// Which Postgres failures are the moment's, not the request's: worth a retry after a pause.
// Read by storage/ for skein's own writes and by datasources/ for a user's transaction (a
// serialization failure or a deadlock there is retried, as DBOS does), so it lives below both.
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

