// Debouncing (migration 0007): a burst of calls with one workflow name and key is one delayed
// ENQUEUED row, open while it is still delayed. A call joins the open burst (new input, due
// `delayMs` from now, never past `maxWaitMs` after the burst's first call, its created_at) or
// opens one. Calls from many processes meet on the partial unique index of open bursts: of two
// that open at once, one inserts and the other finds nothing to join or insert, and tries again.
// A burst closes when its row is released (due), cancelled or resumed; the next call opens another.
// A burst keeps the queue of the call that opened it.
import type { Pool } from './database.ts';
import { statementName } from './identifiers.ts';
import { skeinError } from './pg-errors.ts';
import { notifyChannel, wakeKey } from './messages.ts';

export interface DebounceCall {
  name: string;
  key: string;
  input: Uint8Array;
  delayMs: number;
  maxWaitMs: number | null;
  queue: string;
  executorId: string;
  appVersion: string;
  /** the ID of the workflow, if this call opens a burst */
  newId: string;
  /**
   * How far a test clock runs ahead of the database's (common/clock.ts). A burst opened under
   * one is created at that clock's time, so its cap (created_at + maxWaitMs) stays where it was
   * when the clock moves on between calls.
   */
  shiftMs: number;
}

/** The burst's workflow ID, or null when the call raced another and must try again. */
export async function debounceCall(pool: Pool, schema: string, c: DebounceCall): Promise<string | null> {
  const now = `(now() + $12::bigint * interval '1 millisecond')`;
  const due = `least(clock_timestamp() + ($4 + $12::bigint) * interval '1 millisecond',
    coalesce(w.created_at + $5 * interval '1 millisecond', 'infinity'))`;
  // the opening call is capped too; from its created_at, which its joiners will cap from
  const first = `least(clock_timestamp() + ($4 + $12::bigint) * interval '1 millisecond',
    coalesce(${now} + $5 * interval '1 millisecond', 'infinity'))`;
  const rows = await pool.query<{ id: string }>({
    name: statementName(schema, 'debounce'),
    text: `WITH joined AS (
        UPDATE ${schema}.workflow_status w SET input = $3, delayed_until = ${due}, start_at = ${due}, updated_at = now()
        WHERE w.name = $1 AND w.debounce_key = $2 AND w.delayed_until IS NOT NULL AND w.status = 'ENQUEUED'
        RETURNING w.id
      ), inserted AS (
        INSERT INTO ${schema}.workflow_status (id, name, status, input, executor_id, app_version, queue,
          priority, attempts, debounce_key, start_at, delayed_until, created_at)
        SELECT $6, $1, 'ENQUEUED', $3, $7, $8, $9, 0, 0, $2, ${first}, ${first}, ${now}
        WHERE NOT EXISTS (SELECT 1 FROM joined)
        ON CONFLICT DO NOTHING
        RETURNING id
      ), told AS (
        -- a join may move the due time earlier (a shorter delayMs): timers look again either way
        SELECT pg_notify($10, $11) FROM (SELECT id FROM inserted UNION ALL SELECT id FROM joined) c
      )
      SELECT id FROM joined UNION ALL SELECT id FROM inserted WHERE (SELECT count(*) FROM told) >= 0`,
    values: [c.name, c.key, c.input, c.delayMs, c.maxWaitMs, c.newId, c.executorId, c.appVersion, c.queue, notifyChannel(schema), wakeKey.delays, c.shiftMs],
  }).then((r) => r.rows, (err) => {
    // a key or input the server refuses (too long for its index) is the caller's SerializationError
    throw skeinError(err, { kinds: 'a debounce call' });
  });
  return rows[0]?.id ?? null;
}
