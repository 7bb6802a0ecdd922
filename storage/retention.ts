// Retention: deleting finished workflows with everything that belongs to them, a small batch at
// a time (runtime/retention.ts drives the batches). Only finished rows are ever touched, and
// rows another transaction holds are skipped, never waited on.
import type { Pool } from './database.ts';
import { statementName } from './identifiers.ts';

// The predicate of the partial index workflow_status_completed (0005_management.sql), written
// the same way so the planner proves the index applies.
const FINISHED = `status IN ('SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED')`;

// completedAfterMs may be up to 2^53 ms; now() minus that is out of timestamp range. Nothing
// finished more than a thousand years ago, so the age is capped there.
const MAX_AGE_MS = 1000 * 365 * 86_400_000;

/**
 * Where a deletion stops, in (completed_at, id) order: rows that finished before `at`, and, when
 * `id` is set, those that finished exactly at `at` with an ID up to `id`. `at` is Postgres's own
 * text of the timestamp: a JS Date would drop its microseconds, and rows of one group-commit
 * flush share a completed_at, so the tie matters.
 */
export interface FinishedBound {
  at: string;
  id: string | null;
}

/** The bound of "finished more than `ageMs` ago", by the database's clock (which wrote completed_at). */
export async function readAgeBound(pool: Pool, schema: string, ageMs: number): Promise<FinishedBound> {
  const { rows } = await pool.query<{ at: string }>({
    name: statementName(schema, 'readAgeBound'),
    text: `SELECT (now() - $1::bigint * interval '1 millisecond')::text AS at`,
    values: [Math.min(ageMs, MAX_AGE_MS)],
  });
  return { at: rows[0]!.at, id: null };
}

/**
 * The bound that keeps the newest `keep` finished workflows: the newest one beyond them, or
 * null when there are no more than `keep`. Reads `keep` + 1 entries of the index (the
 * incremental sort orders ties by ID), so it costs in proportion to `keep`.
 */
export async function readCountBound(pool: Pool, schema: string, keep: number): Promise<FinishedBound | null> {
  const { rows } = await pool.query<{ at: string; id: string }>({
    name: statementName(schema, 'readCountBound'),
    text: `
      SELECT completed_at::text AS at, id FROM ${schema}.workflow_status
      WHERE ${FINISHED} AND completed_at IS NOT NULL
      ORDER BY completed_at DESC, id DESC OFFSET $1 LIMIT 1`,
    values: [keep],
  });
  return rows[0] ?? null;
}

/**
 * Deletes up to `limit` finished workflows within `bound`, oldest first, except those a queue's
 * rate limit still counts (started within `rateWindowMs`) and children of a live parent, in one statement (its
 * own short transaction): their steps (ON DELETE CASCADE), the messages and idempotency keys
 * addressed to them, their events and their transactions' records. Rows locked by anyone else (a resume, a fork, a send's
 * foreign key) are skipped, and a row that stopped being finished meanwhile is re-checked out.
 * Returns how many workflows it deleted; fewer than `limit` means none are left in the bound
 * (besides skipped ones).
 */
export async function deleteFinishedBatch(
  pool: Pool,
  schema: string,
  bound: FinishedBound,
  limit: number,
  rateWindowMs: number,
): Promise<number> {
  // The IDs travel as one array compared with = ANY: joined to a CTE instead, the planner
  // hashes it against a sequential scan of every table, a cost that grows with the tables,
  // where the array makes each delete an index lookup of `limit` keys.
  const doomed = `(SELECT ids FROM doomed)::text[]`;
  const { rows } = await pool.query<{ deleted: number }>({
    name: statementName(schema, 'deleteFinishedBatch'),
    text: `
      WITH doomed AS (
        SELECT array_agg(id) AS ids FROM (
          SELECT id FROM ${schema}.workflow_status
          WHERE ${FINISHED} AND completed_at <= $1::timestamptz
            AND (completed_at < $1::timestamptz OR id <= $2::text)
            -- a queue's rate limit counts the starts in its window from these rows
            AND NOT (queue IS NOT NULL AND started_at > now() - $4::bigint * interval '1 millisecond')
            -- a schedule's recent run: its ID is what stops a late process firing its tick again
            -- (runtime/time.ts fires ticks up to MISSED_AFTER_MS late)
            AND NOT (schedule_id IS NOT NULL AND created_at > now() - interval '5 minutes')
            -- a live parent may still read its finished child's result
            AND (parent_id IS NULL OR NOT EXISTS (SELECT 1 FROM ${schema}.workflow_status p
              WHERE p.id = workflow_status.parent_id AND p.status IN ('PENDING', 'ENQUEUED')))
          ORDER BY completed_at LIMIT $3
          FOR UPDATE SKIP LOCKED) d),
      m AS (DELETE FROM ${schema}.messages WHERE destination_id = ANY(${doomed})),
      k AS (DELETE FROM ${schema}.message_keys WHERE destination_id = ANY(${doomed})),
      e AS (DELETE FROM ${schema}.events WHERE workflow_id = ANY(${doomed})),
      t AS (DELETE FROM ${schema}.transaction_outputs WHERE workflow_id = ANY(${doomed})),
      w AS (DELETE FROM ${schema}.workflow_status WHERE id = ANY(${doomed}) RETURNING 1)
      SELECT count(*)::int AS deleted FROM w`,
    values: [bound.at, bound.id, limit, rateWindowMs],
  });
  return rows[0]!.deleted;
}
