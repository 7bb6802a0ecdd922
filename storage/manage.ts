// Managing workflows after they started: resume, fork, delete, priority. Each is one statement
// (a fork: one transaction) guarded by the status it needs, so a race with the workflow's own
// progress (it finishes, another process resumes it) cannot apply a change to a state it was
// not meant for. The functions report what they found; the caller decides what is an error.
import type { Status } from '../common/status.ts';
import { withTransaction, type Pool } from './database.ts';
import { notifyChannel, wakeKey } from './messages.ts';

/** What a resume found: whether it re-queued the workflow, and its status (null: no such ID). */
export interface ResumeResult {
  resumed: boolean;
  status: Status | null;
}

/** Statuses a resume applies to; the others it leaves as they are. */
const RESUMABLE: Status[] = ['CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', 'ENQUEUED'];

/**
 * Re-queues a cancelled, dead-lettered or enqueued workflow on `queue`, under its own ID, to
 * run again from its recorded steps: attempts start over; its outcome, deadline (recomputed
 * from timeout_ms at dequeue, capped by a parent's), wait record and dedup ID are cleared. The dedup ID goes because
 * the row leaves the queue it was unique in, and two resumed rows of one dedup ID would collide
 * on `queue`. The queue's runners are woken when it commits.
 */
export async function resumeWorkflow(pool: Pool, schema: string, id: string, queue: string): Promise<ResumeResult> {
  // The UPDATE re-checks its status guard on the newest row version, so a workflow that
  // finished meanwhile is not resumed. The status read beside it is the statement's snapshot.
  const { rows } = await pool.query<{ status: Status | null; resumed: boolean }>(
    `WITH resumed AS (
       UPDATE ${schema}.workflow_status
       SET status = 'ENQUEUED', queue = $2, attempts = 0, output = NULL, error = NULL,
         completed_at = NULL, dedup_id = NULL, wait_kind = NULL, wait_for = NULL,
         -- a delayed start resumed now: due at once (a debounce's burst closes with it)
         delayed_until = NULL,
         -- its own clock starts again at dequeue; a child stays capped by its parent's deadline
         deadline = (SELECT p.deadline FROM ${schema}.workflow_status p WHERE p.id = workflow_status.parent_id),
         wait_name = NULL, wake_at = NULL, wait_step = NULL, updated_at = now()
       WHERE id = $1 AND status = ANY($3::text[])
       RETURNING id),
     -- read below, so it runs (a CTE with a volatile call is never inlined)
     woken AS (SELECT pg_notify($4, $5) FROM resumed)
     SELECT (SELECT status FROM ${schema}.workflow_status WHERE id = $1) AS status,
       (SELECT count(*) FROM woken) > 0 AS resumed`,
    [id, queue, RESUMABLE, notifyChannel(schema), wakeKey.queue(queue)],
  );
  return rows[0]!;
}

export interface ForkRequest {
  originalId: string;
  newId: string;
  /** steps below this one are copied */
  startStep: number;
  /** null: the original's */
  appVersion: string | null;
  queue: string;
  /** a placeholder: the claim stamps the executor that runs it */
  executorId: string;
}

export type ForkResult =
  | { kind: 'forked' }
  | { kind: 'unknown' }
  /** startStep is beyond the recorded steps; `steps` is how many there are (max step_id + 1) */
  | { kind: 'beyond'; steps: number }
  /** newId is taken */
  | { kind: 'exists' };

/**
 * Creates workflow `newId` as a copy of `originalId` (name, input, user, timeout) ENQUEUED on
 * `queue`, with the steps below `startStep` copied and the events those steps set (the last
 * value per key). All or nothing, in one transaction; the queue's runners are woken at commit.
 */
export async function forkWorkflow(pool: Pool, schema: string, f: ForkRequest): Promise<ForkResult> {
  return withTransaction(pool, async (c) => {
    // FOR SHARE: the original cannot be deleted under the copy
    const { rows } = await c.query<{ steps: number }>(
      `SELECT (SELECT coalesce(max(step_id) + 1, 0)::int FROM ${schema}.steps WHERE workflow_id = $1) AS steps
       FROM ${schema}.workflow_status WHERE id = $1 FOR SHARE`,
      [f.originalId],
    );
    if (rows.length === 0) return { kind: 'unknown' };
    const steps = rows[0]!.steps;
    if (f.startStep > steps) return { kind: 'beyond', steps };
    const inserted = await c.query(
      `INSERT INTO ${schema}.workflow_status (id, name, status, codec, input, executor_id,
         app_version, queue, priority, attempts, forked_from, user_name, timeout_ms, partition_key)
       SELECT $2::text, name, 'ENQUEUED', codec, input, $3::text, coalesce($4::text, app_version), $5::text, 0, 0, id,
         user_name, timeout_ms, partition_key
       FROM ${schema}.workflow_status WHERE id = $1
       ON CONFLICT (id) DO NOTHING`,
      [f.originalId, f.newId, f.executorId, f.appVersion, f.queue],
    );
    if (inserted.rowCount === 0) return { kind: 'exists' };
    if (f.startStep > 0) {
      await c.query(
        `INSERT INTO ${schema}.steps (workflow_id, step_id, name, codec, output, error,
           child_workflow_id, started_at, completed_at, event_key)
         SELECT $2::text, step_id, name, codec, output, error, child_workflow_id, started_at,
           completed_at, event_key
         FROM ${schema}.steps WHERE workflow_id = $1 AND step_id < $3`,
        [f.originalId, f.newId, f.startStep],
      );
      // a key set twice below startStep: the later step's value is the one the fork has seen
      await c.query(
        `INSERT INTO ${schema}.events (workflow_id, key, value)
         SELECT DISTINCT ON (event_key) $2::text, event_key, output
         FROM ${schema}.steps
         WHERE workflow_id = $1 AND step_id < $3 AND event_key IS NOT NULL AND output IS NOT NULL
         ORDER BY event_key, step_id DESC`,
        [f.originalId, f.newId, f.startStep],
      );
    }
    await c.query('SELECT pg_notify($1, $2)', [notifyChannel(schema), wakeKey.queue(f.queue)]);
    return { kind: 'forked' };
  });
}

/** A workflow, and with `children` its descendants, with their statuses. */
export async function listWorkflowTree(
  pool: Pool,
  schema: string,
  id: string,
  children: boolean,
): Promise<{ id: string; status: Status }[]> {
  const { rows } = await pool.query<{ id: string; status: Status }>(
    `WITH RECURSIVE tree AS (
       SELECT id, status FROM ${schema}.workflow_status WHERE id = $1
       UNION
       SELECT w.id, w.status FROM ${schema}.workflow_status w JOIN tree t ON w.parent_id = t.id
       WHERE $2)
     SELECT id, status FROM tree`,
    [id, children],
  );
  return rows;
}

/**
 * Deletes a workflow, and with `children` its descendants (as found now, in this statement):
 * their status rows (their steps go with them, ON DELETE CASCADE), the messages and idempotency
 * keys addressed to them, their events, and their transactions' output records in the system
 * database (records in other datasources stay: README, Transactions). Returns how many
 * workflows it deleted.
 */
export async function deleteWorkflows(pool: Pool, schema: string, id: string, children: boolean): Promise<number> {
  // data-modifying CTEs run to completion whether read or not
  const { rows } = await pool.query<{ n: number }>(
    `WITH RECURSIVE tree AS (
       SELECT id FROM ${schema}.workflow_status WHERE id = $1
       UNION
       SELECT w.id FROM ${schema}.workflow_status w JOIN tree t ON w.parent_id = t.id WHERE $2),
     ids AS MATERIALIZED (SELECT id FROM tree),
     m AS (DELETE FROM ${schema}.messages WHERE destination_id IN (SELECT id FROM ids)),
     k AS (DELETE FROM ${schema}.message_keys WHERE destination_id IN (SELECT id FROM ids)),
     e AS (DELETE FROM ${schema}.events WHERE workflow_id IN (SELECT id FROM ids)),
     t AS (DELETE FROM ${schema}.transaction_outputs WHERE workflow_id IN (SELECT id FROM ids)),
     w AS (DELETE FROM ${schema}.workflow_status WHERE id IN (SELECT id FROM ids) RETURNING 1)
     SELECT count(*)::int AS n FROM w`,
    [id, children],
  );
  return rows[0]!.n;
}

/** Sets the priority of an ENQUEUED workflow; null when there is no such ID. */
export async function setWorkflowPriority(
  pool: Pool,
  schema: string,
  id: string,
  priority: number,
): Promise<{ updated: boolean } | null> {
  const { rows } = await pool.query<{ found: boolean; updated: boolean }>(
    `WITH updated AS (
       UPDATE ${schema}.workflow_status SET priority = $2, updated_at = now()
       WHERE id = $1 AND status = 'ENQUEUED'
       RETURNING id)
     SELECT EXISTS (SELECT 1 FROM ${schema}.workflow_status WHERE id = $1) AS found,
       EXISTS (SELECT 1 FROM updated) AS updated`,
    [id, priority],
  );
  const r = rows[0]!;
  return r.found || r.updated ? { updated: r.updated } : null;
}
