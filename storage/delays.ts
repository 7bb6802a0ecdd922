// Delayed starts (migration 0007): an ENQUEUED row with `delayed_until` set is not claimable.
// Every process's timer asks when the next one is due, by the database's clock (hosts' clocks
// may disagree), and at that time clears the due rows in one statement that also wakes their
// queues. Processes racing on one row are harmless: the UPDATE takes each row once.
import type { Pool } from './database.ts';
import { statementName } from './identifiers.ts';
import { notifyChannel, wakeKey } from './messages.ts';

/**
 * Ms until the earliest delayed row is due (0 if it is), or null when none waits. `shiftMs`:
 * how far a test clock runs ahead of the database's (common/clock.ts); 0 otherwise.
 */
export async function nextDelayedMs(pool: Pool, schema: string, shiftMs = 0): Promise<number | null> {
  const { rows } = await pool.query<{ ms: number | null }>({
    name: statementName(schema, 'nextDelayed'),
    // greatest() skips a NULL: with no row waiting it said 0 ("due now"), and every process
    // looked again every 20 ms (DueLoop's contended pause) for as long as none waited
    text: `SELECT CASE WHEN min(delayed_until) IS NOT NULL
        THEN greatest(0, extract(epoch FROM min(delayed_until) - clock_timestamp()) * 1000 - $1) END::float8 AS ms
      FROM ${schema}.workflow_status WHERE delayed_until IS NOT NULL`,
    values: [shiftMs],
  });
  return rows[0]?.ms ?? null;
}

/**
 * Releases up to `limit` due rows and wakes their queues; returns how many it released. Rows
 * no longer ENQUEUED (cancelled, resumed) are cleared too, or they would stay "due" forever.
 */
export async function releaseDelayed(pool: Pool, schema: string, limit: number, shiftMs = 0): Promise<number> {
  const { rows } = await pool.query<{ n: number }>({
    name: statementName(schema, 'releaseDelayed'),
    text: `WITH due AS MATERIALIZED (
        SELECT id FROM ${schema}.workflow_status
        WHERE delayed_until <= clock_timestamp() + $4::bigint * interval '1 millisecond'
        ORDER BY delayed_until LIMIT $1 FOR UPDATE SKIP LOCKED
      ), released AS (
        UPDATE ${schema}.workflow_status w SET delayed_until = NULL
        FROM due WHERE w.id = due.id
        RETURNING w.queue, w.status
      ), woken AS (
        SELECT pg_notify($2, $3 || queue) FROM (SELECT DISTINCT queue FROM released
          WHERE status = 'ENQUEUED' AND queue IS NOT NULL) q
      )
      SELECT (SELECT count(*) FROM released)::int AS n, (SELECT count(*) FROM woken) AS woken`,
    values: [limit, notifyChannel(schema), wakeKey.queue(''), shiftMs],
  });
  return rows[0]!.n;
}
