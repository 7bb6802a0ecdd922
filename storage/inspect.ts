// Reads for the dashboard (runtime/dashboard/): a workflow's payloads, steps, events and inbox,
// and the starts of each queue in the last minute. Every read is bounded twice: in rows (a
// LIMIT the caller caps) and in bytes, since the admin server decodes what it shows on the main
// thread: a payload above `maxBytes` comes back as its size alone (the column is NULL), so a
// 60 MB output is never even fetched.
import type { Pool } from './database.ts';
import { statementName } from './identifiers.ts';

/** A payload column as the dashboard reads it: its bytes when small enough, always its size. */
export interface SizedPayload {
  /** null when the column is NULL, or larger than the read's maxBytes */
  bytes: Buffer | null;
  /** octet_length, null when the column is NULL */
  size: number | null;
}

/** `col` as two columns `<as>` (its bytes up to `max`, a placeholder) and `<as>_size`. */
function sized(col: string, as: string, max: string): string {
  return `CASE WHEN octet_length(${col}) <= ${max} THEN ${col} END AS ${as}, octet_length(${col}) AS ${as}_size`;
}

function payload(row: Record<string, unknown>, as: string): SizedPayload {
  return { bytes: (row[as] as Buffer | null) ?? null, size: (row[`${as}_size`] as number | null) ?? null };
}

export interface WorkflowPayloads {
  input: SizedPayload;
  output: SizedPayload;
  error: SizedPayload;
}

/** A workflow's input, output and error (each up to `maxBytes`); null when there is no such workflow. */
export async function workflowPayloads(pool: Pool, schema: string, id: string, maxBytes: number): Promise<WorkflowPayloads | null> {
  const { rows } = await pool.query({
    name: statementName(schema, 'inspectPayloads'),
    text: `SELECT ${sized('input', 'input', '$2')}, ${sized('output', 'output', '$2')}, ${sized('error', 'error', '$2')}
      FROM ${schema}.workflow_status WHERE id = $1`,
    values: [id, maxBytes],
  });
  const row = rows[0] as Record<string, unknown> | undefined;
  return row ? { input: payload(row, 'input'), output: payload(row, 'output'), error: payload(row, 'error') } : null;
}

export interface TimelineRow {
  stepId: number;
  name: string;
  output: SizedPayload;
  error: SizedPayload;
  childWorkflowId: string | null;
  startedAt: Date | null;
  completedAt: Date;
  /** null: recorded by skein itself, or before migration 0009 */
  attempts: number | null;
  /**
   * a ctx.transaction: its outcome is in this schema's transaction_outputs. Only there for a
   * transaction that wrote to the system database (the default datasource); a read-only one,
   * or one on another database, records nothing here and reads as a plain step.
   */
  transaction: boolean;
}

/** Steps of workflow `id` from step `fromStep` on, at most `limit`, by step ID. */
export async function timelineSteps(
  pool: Pool,
  schema: string,
  id: string,
  opts: { fromStep: number; limit: number; maxBytes: number },
): Promise<TimelineRow[]> {
  const { rows } = await pool.query({
    name: statementName(schema, 'inspectSteps'),
    text: `SELECT s.step_id, s.name, ${sized('s.output', 'output', '$4')}, ${sized('s.error', 'error', '$4')},
        s.child_workflow_id, s.started_at, s.completed_at, s.attempts,
        EXISTS (SELECT 1 FROM ${schema}.transaction_outputs t
                WHERE t.workflow_id = s.workflow_id AND t.step_id = s.step_id AND t.name = s.name) AS transaction
      FROM ${schema}.steps s
      WHERE s.workflow_id = $1 AND s.step_id >= $2
      ORDER BY s.step_id LIMIT $3`,
    values: [id, opts.fromStep, opts.limit, opts.maxBytes],
  });
  return rows.map((r: Record<string, unknown>) => ({
    stepId: r.step_id as number,
    name: r.name as string,
    output: payload(r, 'output'),
    error: payload(r, 'error'),
    childWorkflowId: r.child_workflow_id as string | null,
    startedAt: r.started_at as Date | null,
    completedAt: r.completed_at as Date,
    attempts: r.attempts as number | null,
    transaction: r.transaction as boolean,
  }));
}

export interface EventRow {
  key: string;
  value: SizedPayload;
  updatedAt: Date;
}

/** The events workflow `id` set, by key (the primary key's order), at most `limit`. */
export async function workflowEvents(pool: Pool, schema: string, id: string, opts: { limit: number; maxBytes: number }): Promise<EventRow[]> {
  const { rows } = await pool.query({
    name: statementName(schema, 'inspectEvents'),
    text: `SELECT key, ${sized('value', 'value', '$3')}, updated_at FROM ${schema}.events
      WHERE workflow_id = $1 ORDER BY key LIMIT $2`,
    values: [id, opts.limit, opts.maxBytes],
  });
  return rows.map((r: Record<string, unknown>) => ({ key: r.key as string, value: payload(r, 'value'), updatedAt: r.updated_at as Date }));
}

export interface MessageRow {
  topic: string;
  message: SizedPayload;
  createdAt: Date;
}

/**
 * Messages waiting in workflow `id`'s inbox, at most `limit`: by topic, then oldest first, the
 * order of the inbox index (messages_inbox), so a huge inbox is not sorted to show a page of it.
 */
export async function waitingMessages(pool: Pool, schema: string, id: string, opts: { limit: number; maxBytes: number }): Promise<MessageRow[]> {
  const { rows } = await pool.query({
    name: statementName(schema, 'inspectMessages'),
    text: `SELECT topic, ${sized('message', 'message', '$3')}, created_at FROM ${schema}.messages
      WHERE destination_id = $1 ORDER BY topic, id LIMIT $2`,
    values: [id, opts.limit, opts.maxBytes],
  });
  return rows.map((r: Record<string, unknown>) => ({ topic: r.topic as string, message: payload(r, 'message'), createdAt: r.created_at as Date }));
}

/**
 * Workflows started in the last minute, by queue, all processes; queues with none are left out.
 * The queues are found by a skip scan of workflow_status_queue_starts (queue, started_at): one
 * index probe per distinct queue name, then one range count per queue on the same index, so
 * the cost follows the number of queues and of recent starts, never the table's rows. Before
 * Postgres 18, a plain `WHERE started_at > ... GROUP BY queue` cannot use that index (started_at
 * is its second column) and reads every queued row ever kept. Measured (EXPLAIN ANALYZE, 300,000
 * rows over 20 queues, Postgres 18): 0.8 ms, index-only scans. At most `maxQueues` names are visited.
 */
export async function startsLastMinute(pool: Pool, schema: string, maxQueues: number): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ queue: string; n: number }>({
    name: statementName(schema, 'inspectStarts'),
    text: `WITH RECURSIVE names AS (
        (SELECT queue, 1 AS i FROM ${schema}.workflow_status WHERE queue IS NOT NULL ORDER BY queue LIMIT 1)
        UNION ALL
        SELECT (SELECT w.queue FROM ${schema}.workflow_status w
                WHERE w.queue IS NOT NULL AND w.queue > names.queue ORDER BY w.queue LIMIT 1), i + 1
        FROM names WHERE names.queue IS NOT NULL AND i < $1)
      SELECT queue, (SELECT count(*)::int FROM ${schema}.workflow_status w
                     WHERE w.queue = names.queue AND w.started_at > now() - interval '1 minute') AS n
      FROM names WHERE queue IS NOT NULL`,
    values: [maxQueues],
  });
  return new Map(rows.filter((r) => r.n > 0).map((r) => [r.queue, r.n]));
}
