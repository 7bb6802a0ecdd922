// Reads of workflow_status. Writes go through the group-commit writer (write-ops.ts).
import type { ListFilter } from '../common/options.ts';
import type { Status } from '../common/status.ts';
import type { Pool } from './database.ts';
import { statementName } from './identifiers.ts';

export { STATUSES, type Status } from '../common/status.ts';

export interface WorkflowRow {
  id: string;
  name: string;
  status: Status;
  input: Buffer | null;
  output: Buffer | null;
  error: Buffer | null;
  executor_id: string;
  /** null: enqueued by a Client without appVersion, so any version may claim it */
  app_version: string | null;
  queue: string | null;
  priority: number;
  dedup_id: string | null;
  attempts: number;
  parent_id: string | null;
  forked_from: string | null;
  user_name: string | null;
  timeout_ms: string | null;
  deadline: Date | null;
  partition_key: string | null;
  start_at: Date | null;
  schedule_id: string | null;
  created_at: Date;
  updated_at: Date;
  started_at: Date | null;
  completed_at: Date | null;
}

const COLUMNS = `id, name, status, executor_id, app_version, queue, priority, dedup_id, attempts,
  parent_id, forked_from, user_name, timeout_ms, deadline, partition_key, start_at, schedule_id,
  created_at, updated_at, started_at, completed_at`;

export async function getWorkflow(pool: Pool, schema: string, id: string): Promise<WorkflowRow | null> {
  const { rows } = await pool.query<WorkflowRow>({
    name: statementName(schema, 'getWorkflow'),
    text: `SELECT ${COLUMNS}, input, output, error FROM ${schema}.workflow_status WHERE id = $1`,
    values: [id],
  });
  return rows[0] ?? null;
}

/** A workflow's status and outcome columns, as result() reads them. */
export type OutcomeRow = Pick<WorkflowRow, 'id' | 'status' | 'output' | 'error'>;

/**
 * The status and outcome columns of each of `ids` that exists, in one statement: the result()
 * calls of one turn are read together (runtime/outcome-reads.ts).
 */
export async function getOutcomes(pool: Pool, schema: string, ids: string[]): Promise<OutcomeRow[]> {
  const { rows } = await pool.query<OutcomeRow>({
    name: statementName(schema, 'getOutcomes'),
    text: `SELECT id, status, output, error FROM ${schema}.workflow_status WHERE id = ANY($1::text[])`,
    values: [ids],
  });
  return rows;
}

/** The terminal outcome of a workflow, or null while it is not finished. */
export async function getOutcome(
  pool: Pool,
  schema: string,
  id: string,
): Promise<Pick<WorkflowRow, 'status' | 'output' | 'error'> | null> {
  const { rows } = await pool.query<Pick<WorkflowRow, 'status' | 'output' | 'error'>>({
    name: statementName(schema, 'getOutcome'),
    text: `SELECT status, output, error FROM ${schema}.workflow_status WHERE id = $1`,
    values: [id],
  });
  return rows[0] ?? null;
}

/**
 * A place in the list's order (created_at, id): created_at to the microsecond, as ISO 8601 text
 * (a Date keeps milliseconds, and the rows of one millisecond would be skipped or repeated).
 */
export interface ListCursor {
  createdAt: string;
  id: string;
}

/** A ListFilter as checked (common/options.ts), with status and name as lists. */
export type ListQuery = Omit<ListFilter, 'status' | 'name'> & {
  status?: Status[];
  name?: string[];
  /**
   * Keyset paging (the dashboard's): each row carries its cursor (`cursor_at`), and with `after`
   * only the rows past that place in the list's order are read. The place is found in the
   * created_at index, so a page far down the list costs what the first one does; an OFFSET reads
   * and drops every row before it (measured: bench/DASHBOARD.md).
   */
  keyset?: { after?: ListCursor };
};

/** A listed row with its place in the order, when the query asked for keyset paging. */
export type ListedRow = WorkflowRow & { cursor_at?: string };

export async function listWorkflows(pool: Pool, schema: string, q: ListQuery): Promise<ListedRow[]> {
  const where: string[] = [];
  const values: unknown[] = [];
  const param = (v: unknown) => `$${values.push(v)}`;
  if (q.ids) where.push(`id = ANY(${param(q.ids)}::text[])`);
  // LIKE with the prefix's own wildcards escaped: a user's '%' matches only '%'
  if (q.idPrefix !== undefined) {
    where.push(`id LIKE ${param(q.idPrefix.replace(/[\\%_]/g, '\\$&') + '%')}`);
  }
  if (q.name !== undefined) where.push(`name = ANY(${param(q.name)}::text[])`);
  if (q.status) where.push(`status = ANY(${param(q.status)}::text[])`);
  if (q.queue !== undefined) where.push(`queue = ${param(q.queue)}`);
  if (q.queuesOnly) where.push(`queue IS NOT NULL`);
  if (q.user !== undefined) where.push(`user_name = ${param(q.user)}`);
  if (q.appVersion !== undefined) where.push(`app_version = ${param(q.appVersion)}`);
  if (q.executorId !== undefined) where.push(`executor_id = ${param(q.executorId)}`);
  if (q.parentId !== undefined) where.push(`parent_id = ${param(q.parentId)}`);
  if (q.forkedFrom !== undefined) where.push(`forked_from = ${param(q.forkedFrom)}`);
  if (q.scheduleId !== undefined) where.push(`schedule_id = ${param(q.scheduleId)}`);
  if (q.since) where.push(`created_at >= ${param(q.since)}`);
  if (q.until) where.push(`created_at <= ${param(q.until)}`);
  // a row comparison: the planner reads it as `created_at <= $t` in the index, then the exact test
  if (q.keyset?.after) {
    const { createdAt, id } = q.keyset.after;
    where.push(`(created_at, id) ${q.desc ? '<' : '>'} (${param(createdAt)}::timestamptz, ${param(id)}::text)`);
  }
  const payloads = [q.loadInput && 'input', q.loadOutput && 'output, error'].filter(Boolean);
  const order = `ORDER BY created_at ${q.desc ? 'DESC' : 'ASC'}, id ${q.desc ? 'DESC' : 'ASC'}`;
  const list = `SELECT ${[COLUMNS, ...payloads].join(', ')} FROM ${schema}.workflow_status
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ${order}
    ${q.limit !== undefined ? `LIMIT ${param(q.limit)}` : ''}
    ${q.offset !== undefined ? `OFFSET ${param(q.offset)}` : ''}`;
  // The cursor is formatted outside: in the list's own SELECT, Postgres formats every row an
  // OFFSET skips too (measured, 100,000 rows, offset 99,900: 372 ms, against 147 without the
  // cursor and 164 formatted outside). The subquery's order is kept: the outer ORDER BY is free.
  const text = q.keyset
    ? `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at FROM (${list}) page ${order}`
    : list;
  const { rows } = await pool.query<ListedRow>(text, values);
  return rows;
}

/** A dispatch counted by claimAttempt. */
export interface ClaimedAttempt {
  /** dispatches so far, this one included */
  attempts: number;
  /** PENDING: run it; MAX_RECOVERY_ATTEMPTS_EXCEEDED: it was dead-lettered instead */
  status: 'PENDING' | 'MAX_RECOVERY_ATTEMPTS_EXCEEDED';
}

/**
 * Counts one more dispatch of a PENDING workflow and takes it for `executorId`, or dead-letters
 * it when it already had `maxAttempts` dispatches. Null when the workflow is no longer PENDING
 * under one of `fromExecutorIds` (finished, cancelled, or taken meanwhile by another process).
 */
export async function claimAttempt(
  pool: Pool,
  schema: string,
  id: string,
  fromExecutorIds: string[],
  executorId: string,
  maxAttempts: number,
): Promise<ClaimedAttempt | null> {
  const { rows } = await pool.query<ClaimedAttempt>({
    name: statementName(schema, 'claimAttempt'),
    text: `UPDATE ${schema}.workflow_status
      SET attempts = CASE WHEN attempts < $4 THEN attempts + 1 ELSE attempts END,
        status = CASE WHEN attempts < $4 THEN status ELSE 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' END,
        completed_at = CASE WHEN attempts < $4 THEN completed_at ELSE now() END,
        executor_id = $3, updated_at = now(), started_at = coalesce(started_at, now())
      WHERE id = $1 AND status = 'PENDING' AND executor_id = ANY($2::text[])
      RETURNING attempts, status`,
    values: [id, fromExecutorIds, executorId, maxAttempts],
  });
  return rows[0] ?? null;
}


/** Dead-letters a workflow that came back (from its queue) after too many attempts. */
export async function deadLetter(pool: Pool, schema: string, id: string): Promise<void> {
  await pool.query(
    `UPDATE ${schema}.workflow_status
     SET status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED', updated_at = now(), completed_at = now()
     WHERE id = $1 AND status = 'PENDING'`,
    [id],
  );
}

/**
 * The name of the workflow that ID `id` belongs to, or null if there is none. Read only after
 * an insert lost to an existing row, to tell the same workflow from another one.
 */
export async function workflowName(pool: Pool, schema: string, id: string): Promise<string | null> {
  const { rows } = await pool.query<{ name: string }>(
    `SELECT name FROM ${schema}.workflow_status WHERE id = $1`,
    [id],
  );
  return rows[0]?.name ?? null;
}
