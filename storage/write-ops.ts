// The writes that go through the group-commit writer, and the multi-row statement that applies
// all writes of one kind in a flush. Each statement takes parallel arrays (unnest) and RETURNs
// the keys it actually wrote, so items that lost a race can be told apart from the rest.
import type { PoolClient } from './database.ts';

export interface NewWorkflow {
  id: string;
  name: string;
  /** PENDING when it runs at once, ENQUEUED when it waits in a queue */
  status: 'PENDING' | 'ENQUEUED';
  input: Uint8Array;
  executorId: string;
  /** null: stamped by whichever executor dequeues it (enqueued by a Client) */
  appVersion: string | null;
  queue: string | null;
  priority: number;
  dedupId: string | null;
  parentId: string | null;
  userName: string | null;
  timeoutMs: number | null;
}

export interface NewStep {
  workflowId: string;
  stepId: number;
  name: string;
  output: Uint8Array | null;
  error: Uint8Array | null;
  childWorkflowId: string | null;
  startedAt: number;
}

export interface FinishedWorkflow {
  id: string;
  status: 'SUCCESS' | 'ERROR';
  output: Uint8Array | null;
  error: Uint8Array | null;
}

export interface NewMessage {
  destinationId: string;
  /** '' when sent without a topic */
  topic: string;
  message: Uint8Array;
  /** sends from outside workflows: a repeat with the same key delivers nothing */
  idempotencyKey: string | null;
}

export interface EventValue {
  workflowId: string;
  key: string;
  value: Uint8Array;
}

export interface Notification {
  channel: string;
  payload: string;
}

/**
 * One write. Its outcome is `true` when it took effect; `false` when it was already done by
 * someone else (an existing workflow ID, a step recorded first elsewhere, a workflow no longer
 * PENDING).
 */
export type WriteOp =
  | { kind: 'insertWorkflow'; row: NewWorkflow }
  | { kind: 'recordStep'; row: NewStep }
  | { kind: 'finishWorkflow'; row: FinishedWorkflow }
  | { kind: 'sendMessage'; row: NewMessage }
  | { kind: 'setEvent'; row: EventValue }
  | { kind: 'notify'; row: Notification };

type Kind = WriteOp['kind'];
type RowOf<K extends Kind> = Extract<WriteOp, { kind: K }>['row'];

interface Statement<K extends Kind> {
  sql(schema: string): string;
  params(rows: RowOf<K>[]): unknown[];
  /** the key of the row at `index`, matching what the statement RETURNs */
  key(row: RowOf<K>, index: number): string;
  /**
   * 'first': among rows with one key, only the first listed took effect (inserts that lose to
   * an existing row); 'all': every row whose key came back took effect (upserts).
   */
  outcome?: 'first' | 'all';
}

const statements: { [K in Kind]: Statement<K> } = {
  insertWorkflow: {
    sql: (s) => `
      INSERT INTO ${s}.workflow_status (id, name, status, input, executor_id, app_version, queue,
        priority, dedup_id, parent_id, user_name, timeout_ms, attempts, started_at)
      SELECT v.id, v.name, v.status, v.input, v.executor_id, v.app_version, v.queue, v.priority,
        v.dedup_id, v.parent_id, v.user_name, v.timeout_ms,
        CASE WHEN v.status = 'PENDING' THEN 1 ELSE 0 END,
        CASE WHEN v.status = 'PENDING' THEN now() END
      FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::text[],
        $7::text[], $8::int[], $9::text[], $10::text[], $11::text[], $12::bigint[])
        AS v(id, name, status, input, executor_id, app_version, queue, priority, dedup_id,
          parent_id, user_name, timeout_ms)
      ON CONFLICT (id) DO NOTHING
      RETURNING id AS key`,
    params: (rows) => [
      rows.map((r) => r.id),
      rows.map((r) => r.name),
      rows.map((r) => r.status),
      rows.map((r) => r.input),
      rows.map((r) => r.executorId),
      rows.map((r) => r.appVersion),
      rows.map((r) => r.queue),
      rows.map((r) => r.priority),
      rows.map((r) => r.dedupId),
      rows.map((r) => r.parentId),
      rows.map((r) => r.userName),
      rows.map((r) => r.timeoutMs),
    ],
    key: (r) => r.id,
  },
  recordStep: {
    sql: (s) => `
      INSERT INTO ${s}.steps (workflow_id, step_id, name, output, error, child_workflow_id,
        started_at)
      SELECT v.workflow_id, v.step_id, v.name, v.output, v.error, v.child_workflow_id,
        to_timestamp(v.started_ms / 1000.0)
      FROM unnest($1::text[], $2::int[], $3::text[], $4::bytea[], $5::bytea[], $6::text[],
        $7::float8[]) AS v(workflow_id, step_id, name, output, error, child_workflow_id, started_ms)
      ON CONFLICT (workflow_id, step_id) DO NOTHING
      RETURNING workflow_id || '/' || step_id AS key`,
    params: (rows) => [
      rows.map((r) => r.workflowId),
      rows.map((r) => r.stepId),
      rows.map((r) => r.name),
      rows.map((r) => r.output),
      rows.map((r) => r.error),
      rows.map((r) => r.childWorkflowId),
      rows.map((r) => r.startedAt),
    ],
    key: (r) => `${r.workflowId}/${r.stepId}`,
  },
  finishWorkflow: {
    // Only a PENDING workflow finishes: a cancelled or dead-lettered one keeps its status.
    sql: (s) => `
      UPDATE ${s}.workflow_status w
      SET status = v.status, output = v.output, error = v.error,
        updated_at = now(), completed_at = now()
      FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) AS v(id, status, output, error)
      WHERE w.id = v.id AND w.status = 'PENDING'
      RETURNING w.id AS key`,
    params: (rows) => [
      rows.map((r) => r.id),
      rows.map((r) => r.status),
      rows.map((r) => r.output),
      rows.map((r) => r.error),
    ],
    key: (r) => r.id,
  },
  sendMessage: {
    // A keyed message is delivered only if its key is new (the first of a batch wins);
    // messages keep the order listed.
    sql: (s) => `
      WITH v AS MATERIALIZED (
        SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[])
          WITH ORDINALITY AS v(destination_id, topic, message, idempotency_key, n)),
      fresh AS (
        INSERT INTO ${s}.message_keys (destination_id, idempotency_key)
        SELECT destination_id, idempotency_key FROM v WHERE idempotency_key IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING destination_id, idempotency_key),
      deliver AS MATERIALIZED (
        (SELECT * FROM v WHERE idempotency_key IS NULL)
        UNION ALL
        (SELECT DISTINCT ON (v.destination_id, v.idempotency_key) v.*
         FROM v JOIN fresh f USING (destination_id, idempotency_key)
         ORDER BY v.destination_id, v.idempotency_key, v.n)),
      sent AS (
        INSERT INTO ${s}.messages (destination_id, topic, message)
        SELECT destination_id, topic, message FROM deliver ORDER BY n
        RETURNING 1)
      -- (data-modifying CTEs always run to completion, read or not)
      SELECT n::text AS key FROM deliver`,
    params: (rows) => [
      rows.map((r) => r.destinationId),
      rows.map((r) => r.topic),
      rows.map((r) => r.message),
      rows.map((r) => r.idempotencyKey),
    ],
    key: (_r, i) => String(i + 1),
  },
  setEvent: {
    // One statement may not update a row twice: the last value listed for a key wins.
    sql: (s) => `
      INSERT INTO ${s}.events (workflow_id, key, value)
      SELECT DISTINCT ON (v.workflow_id, v.key) v.workflow_id, v.key, v.value
      FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS v(workflow_id, key, value, n)
      ORDER BY v.workflow_id, v.key, v.n DESC
      ON CONFLICT (workflow_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
      RETURNING workflow_id || '/' || key AS key`,
    params: (rows) => [rows.map((r) => r.workflowId), rows.map((r) => r.key), rows.map((r) => r.value)],
    key: (r) => `${r.workflowId}/${r.key}`,
    outcome: 'all',
  },
  notify: {
    // delivered at COMMIT; Postgres folds identical notifications of one transaction into one
    sql: () => `SELECT '' AS key, pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS v(c, p)`,
    params: (rows) => [rows.map((r) => r.channel), rows.map((r) => r.payload)],
    key: () => '',
    outcome: 'all',
  },
};

/** Statement order within a flush: rows a later kind depends on are written first. */
const ORDER: Kind[] = ['insertWorkflow', 'recordStep', 'sendMessage', 'setEvent', 'finishWorkflow', 'notify'];

/**
 * Applies `ops` with one statement per kind present and returns each op's outcome, in order.
 * Among ops with the same key, the first listed wins.
 */
export async function applyOps(client: PoolClient, schema: string, ops: WriteOp[]): Promise<boolean[]> {
  const outcome = new Array<boolean>(ops.length).fill(false);
  for (const kind of ORDER) {
    const indexes: number[] = [];
    ops.forEach((op, i) => op.kind === kind && indexes.push(i));
    if (indexes.length === 0) continue;
    const stmt = statements[kind] as Statement<Kind>;
    const rows = indexes.map((i) => ops[i]!.row);
    const result = await client.query<{ key: string }>({
      // named, so each connection prepares it once
      name: `skein.${schema}.${kind}`,
      text: stmt.sql(schema),
      values: stmt.params(rows),
    });
    const written = new Set(result.rows.map((r) => r.key));
    const all = stmt.outcome === 'all';
    indexes.forEach((i, j) => {
      const key = stmt.key(rows[j]!, j);
      if (all ? written.has(key) : written.delete(key)) outcome[i] = true;
    });
  }
  return outcome;
}
