// What parking needs from Postgres: an execution loaded in one round trip (its input and
// recorded steps), effect-free checks of many wake conditions in one statement, and the
// PENDING backlog with its wait records for recovery. The wait record itself is written
// through the group-commit writer (write-ops.ts, parkWorkflow).
import type { Pool } from './database.ts';
import { statementName } from './identifiers.ts';
import type { StepRow } from './steps.ts';

export type WaitKind = 'time' | 'message' | 'event' | 'done';

/** How a waiting workflow is woken. The durable parts are in Postgres already. */
export interface WakeCondition {
  /** the NOTIFY payload that may end the wait; none for a plain timer */
  key?: string;
  /** epoch ms when the wait ends whatever happens */
  until?: number;
  /** what a parked workflow waits for; `ready` checks it without taking anything */
  kind: WaitKind;
  /** the message's destination and topic, the event's workflow and key, the child's ID */
  target?: [string, string] | [string];
  /** first step id that, once recorded, means this wait is over (wait records, recovery/) */
  stepId?: number;
}

/** A wake condition to check: a message on (destination, topic), an event (workflow, key), an end (id). */
export interface Condition {
  kind: Exclude<WaitKind, 'time'>;
  a: string;
  b: string | null;
}

/**
 * Which of `conds` hold now, by index, without taking anything. One statement for all of them,
 * so a burst of notifications, or the safety sweep over every parked workflow, costs one round
 * trip per chunk rather than one per workflow. A `done` condition also holds when the awaited
 * workflow does not exist: the replay's own request then reports that.
 */
export async function readyConditions(pool: Pool, schema: string, conds: Condition[]): Promise<boolean[]> {
  const { rows } = await pool.query<{ i: string }>({
    name: statementName(schema, 'readyConditions'),
    text: `SELECT v.i FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS v(kind, a, b, i)
      WHERE CASE v.kind
        WHEN 'message' THEN EXISTS (SELECT 1 FROM ${schema}.messages m
          WHERE m.destination_id = v.a AND m.topic = v.b)
        WHEN 'event' THEN EXISTS (SELECT 1 FROM ${schema}.events e
          WHERE e.workflow_id = v.a AND e.key = v.b)
        ELSE NOT EXISTS (SELECT 1 FROM ${schema}.workflow_status w
          WHERE w.id = v.a AND w.status IN ('PENDING', 'ENQUEUED'))
      END`,
    values: [conds.map((c) => c.kind), conds.map((c) => c.a), conds.map((c) => c.b)],
  });
  const ready = new Array<boolean>(conds.length).fill(false);
  for (const r of rows) ready[Number(r.i) - 1] = true;
  return ready;
}

export interface LoadedExecution {
  attempts: number;
  input: Buffer;
  steps: Pick<StepRow, 'step_id' | 'name' | 'output' | 'error' | 'child_workflow_id'>[];
}

/**
 * The input and recorded steps of a workflow that is PENDING under `executorId`, in one round
 * trip (the status row rides along the steps as a row with step_id -1); null when it is not
 * (finished, cancelled, or another executor's now). What a wake or a recovery replays from.
 */
export async function loadExecution(
  pool: Pool,
  schema: string,
  id: string,
  executorId: string,
): Promise<LoadedExecution | null> {
  const { rows } = await pool.query<{
    step_id: number;
    name: string;
    output: Buffer | null;
    error: Buffer | null;
    child_workflow_id: string | null;
    attempts: number | null;
  }>({
    name: statementName(schema, 'loadExecution'),
    // Status and owner are tested in the select list, not the WHERE clause: there, while the
    // table's statistics lag its growth, the generic plan of this prepared statement chose the
    // partial index of PENDING rows by executor and scanned every parked workflow of this
    // executor per load (EXPLAIN ANALYZE with 5,000 parked: 2.5 ms vs 0.04 ms by primary key;
    // 10,000 wakes drained at 215/s, Postgres busy on this query alone; after: ~700/s).
    text: `SELECT -1 AS step_id, '' AS name, w.input AS output, NULL::bytea AS error,
        NULL::text AS child_workflow_id,
        CASE WHEN w.status = 'PENDING' AND w.executor_id = $2 THEN w.attempts END AS attempts
      FROM ${schema}.workflow_status w
      WHERE w.id = $1
      UNION ALL
      SELECT s.step_id, s.name, s.output, s.error, s.child_workflow_id, NULL::int
      FROM ${schema}.steps s WHERE s.workflow_id = $1
      ORDER BY step_id`,
    values: [id, executorId],
  });
  const head = rows[0];
  if (!head || head.step_id !== -1 || head.attempts === null) return null;
  return { attempts: head.attempts, input: head.output ?? Buffer.alloc(0), steps: rows.slice(1) };
}

export interface PendingRow {
  id: string;
  name: string;
  wait_kind: WaitKind | null;
  wait_for: string | null;
  wait_name: string | null;
  wake_at: Date | null;
  wait_step: number | null;
  deadline: Date | null;
  /** highest recorded step id, null when none */
  last_step: number | null;
}

const PENDING_COLUMNS = `id, name, wait_kind, wait_for, wait_name, wake_at, wait_step, deadline, created_at, seq`;

/**
 * Takes the PENDING workflows of `fromExecutorIds` and this app version that run outside
 * queues for `executorId`, oldest first: the recovery backlog, with wait records. One
 * statement; row locks give each workflow to exactly one of several processes doing the same.
 * No payloads: a backlog of 100,000 waiting workflows must fit. (Its own backlog is only read.)
 */
export async function takePendingWorkflows(
  pool: Pool,
  schema: string,
  fromExecutorIds: string[],
  executorId: string,
  appVersion: string,
): Promise<PendingRow[]> {
  const own = fromExecutorIds.length === 1 && fromExecutorIds[0] === executorId;
  const where = `status = 'PENDING' AND executor_id = ANY($1::text[]) AND app_version = $2 AND queue IS NULL`;
  const taken = own
    ? `SELECT ${PENDING_COLUMNS} FROM ${schema}.workflow_status WHERE ${where}`
    : `UPDATE ${schema}.workflow_status SET executor_id = $3, updated_at = now() WHERE ${where}
       RETURNING ${PENDING_COLUMNS}`;
  const { rows } = await pool.query<PendingRow>(
    `WITH taken AS (${taken})
     SELECT t.id, t.name, t.wait_kind, t.wait_for, t.wait_name, t.wake_at, t.wait_step, t.deadline,
       (SELECT max(s.step_id) FROM ${schema}.steps s WHERE s.workflow_id = t.id) AS last_step
     FROM taken t ORDER BY t.created_at, t.seq`,
    own ? [fromExecutorIds, appVersion] : [fromExecutorIds, appVersion, executorId],
  );
  return rows;
}

/**
 * Puts the interrupted queued workflows of these executors back in their queues, so the
 * queues' limits count them again (the dequeue counts the attempt). Returns them.
 */
export async function requeuePending(
  pool: Pool,
  schema: string,
  fromExecutorIds: string[],
  appVersion: string,
): Promise<{ id: string; queue: string }[]> {
  const { rows } = await pool.query<{ id: string; queue: string }>(
    `UPDATE ${schema}.workflow_status SET status = 'ENQUEUED', updated_at = now()
     WHERE status = 'PENDING' AND executor_id = ANY($1::text[]) AND app_version = $2 AND queue IS NOT NULL
     RETURNING id, queue`,
    [fromExecutorIds, appVersion],
  );
  return rows;
}
