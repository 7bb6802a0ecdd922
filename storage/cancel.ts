// Cancelling: a workflow and all its descendants (by parent_id) that are PENDING or ENQUEUED
// become CANCELLED in one statement, which also NOTIFYs, on commit, whoever runs each of them,
// whoever awaits their results, and the queues they held a place in.
import type { CancelReason } from '../common/errors.ts';
import type { Pool } from './database.ts';
import { notifyChannel, wakeKey } from './messages.ts';

export interface CancelledRow {
  id: string;
  queue: string | null;
}

/**
 * Cancels `id` and its descendants still PENDING or ENQUEUED; returns those it changed (none
 * when the workflow had finished: a finished workflow stays as it was). `rootError` is recorded
 * on `id`, `childError` on its descendants.
 */
export async function cancelWorkflowTree(
  pool: Pool,
  schema: string,
  id: string,
  errors: { root: Uint8Array; child: Uint8Array },
  reason: CancelReason,
  force: boolean,
): Promise<CancelledRow[]> {
  const { rows } = await pool.query<CancelledRow>(
    `WITH RECURSIVE tree(id) AS (
        SELECT $1::text
        UNION
        SELECT w.id FROM ${schema}.workflow_status w JOIN tree t ON w.parent_id = t.id
      ), cancelled AS (
        UPDATE ${schema}.workflow_status w
        SET status = 'CANCELLED', error = CASE WHEN w.id = $1 THEN $2::bytea ELSE $3::bytea END,
          output = NULL, completed_at = now(), updated_at = now(),
          -- a delayed start cancelled: no timer needs it (a debounce's burst closes with it)
          delayed_until = NULL
        FROM tree WHERE w.id = tree.id AND w.status IN ('PENDING', 'ENQUEUED')
        RETURNING w.id, w.queue
      )
      SELECT id, queue,
        pg_notify($4, $5 || id), pg_notify($4, $6 || id),
        CASE WHEN queue IS NOT NULL THEN pg_notify($4, $7 || queue) END
      FROM cancelled`,
    [id, errors.root, errors.child, notifyChannel(schema), wakeKey.cancelPrefix(reason, force), wakeKey.done(''), wakeKey.queue('')],
  );
  return rows.map((r) => ({ id: r.id, queue: r.queue }));
}

/** Those of `ids` that are CANCELLED now (a cancel NOTIFY may have been missed). */
export async function cancelledAmong(pool: Pool, schema: string, ids: string[]): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM ${schema}.workflow_status WHERE id = ANY($1::text[]) AND status = 'CANCELLED'`,
    [ids],
  );
  return rows.map((r) => r.id);
}
