// The writes that go through the group-commit writer, and the multi-row statement that applies
// all writes of one kind in a flush. Each statement takes parallel arrays (unnest) and RETURNs
// the keys it actually wrote, so items that lost a race can be told apart from the rest.
import type { Pool, PoolClient } from './database.ts';
import { arrayParamTypes, packArray, type ElementType } from './binary-arrays.ts';
import { statementName } from './identifiers.ts';

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
  /**
   * epoch ms: a PENDING row's deadline (now + timeoutMs, capped by its parent's); an ENQUEUED
   * row's cap only (its parent's), its own clock starting at dequeue
   */
  deadline: number | null;
  /** when it may start: epoch ms, or ms from the database's now (shown as startAt) */
  startAt?: number | null;
  delayMs?: number | null;
  /**
   * a delayed start (ENQUEUED), as isDelayed decided: it waits for the timers even if the
   * database's clock has passed its time, and they, told by the same commit, release it at
   * once (deciding by that clock instead would leave such a row with no timer to release it
   * and no queue wake-up)
   */
  delayed?: boolean;
  partitionKey?: string | null;
  /** the schedule whose tick this is */
  scheduleId?: string | null;
}

export interface NewStep {
  workflowId: string;
  stepId: number;
  name: string;
  output: Uint8Array | null;
  error: Uint8Array | null;
  childWorkflowId: string | null;
  startedAt: number;
  /** a setEvent step: the key it set (its output is the value), so a fork can copy the event */
  eventKey?: string | null;
  /** tries of a step's function (retries + 1); unset for skein's own records */
  attempts?: number | null;
}

export interface FinishedWorkflow {
  id: string;
  /**
   * the executor that ran it: the row must still be its own, so a run that lost the workflow
   * (cancelled, then resumed and claimed elsewhere) cannot finish the new run's row
   */
  executorId: string;
  status: 'SUCCESS' | 'ERROR';
  output: Uint8Array | null;
  error: Uint8Array | null;
}

/** A parked workflow's wake condition (migration 0004). */
export interface WaitRecord {
  id: string;
  /** written only while the workflow is still this executor's */
  executorId: string;
  kind: 'time' | 'message' | 'event' | 'done';
  waitFor: string | null;
  waitName: string | null;
  /** epoch ms */
  wakeAt: number | null;
  waitStep: number | null;
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
  | { kind: 'parkWorkflow'; row: WaitRecord }
  | { kind: 'notify'; row: Notification };

type Kind = WriteOp['kind'];
type RowOf<K extends Kind> = Extract<WriteOp, { kind: K }>['row'];

/** A CTE; `materialized` for those read twice, so Postgres computes them once. */
type Cte = [name: string, sql: string, materialized?: 'materialized'];

/** `p(i)` is the placeholder of this kind's i-th parameter within the whole statement. */
type Placeholder = (i: number) => string;

interface Statement<K extends Kind> {
  /**
   * The CTEs that apply this kind's rows, in order; the last is named `<kind>_out` and returns
   * one `key` per row written.
   */
  ctes(schema: string, p: Placeholder): Cte[];
  params(rows: RowOf<K>[]): unknown[];
  /** the key of the row at `index`, matching what `<kind>_out` returns */
  key(row: RowOf<K>, index: number): string;
  /**
   * 'first': among rows with one key, only the first listed took effect (inserts that lose to
   * an existing row); 'all': every row whose key came back took effect (upserts).
   */
  outcome?: 'first' | 'all';
}

const statements: { [K in Kind]: Statement<K> } = {
  insertWorkflow: {
    ctes: (s, p) => [
      [
        'insertWorkflow_out',
        `INSERT INTO ${s}.workflow_status (id, name, status, input, executor_id, app_version, queue,
          priority, dedup_id, parent_id, user_name, timeout_ms, deadline, attempts, started_at,
          partition_key, schedule_id, start_at, delayed_until)
        SELECT v.id, v.name, v.status, v.input, v.executor_id, v.app_version, v.queue, v.priority,
          v.dedup_id, v.parent_id, v.user_name, v.timeout_ms, to_timestamp(v.deadline / 1000.0),
          CASE WHEN v.status = 'PENDING' THEN 1 ELSE 0 END,
          CASE WHEN v.status = 'PENDING' THEN now() END,
          v.partition_key, v.schedule_id, v.start_at, CASE WHEN v.delayed THEN v.start_at END
        FROM (SELECT u.*, coalesce(to_timestamp(u.start_ms / 1000.0), now() + u.delay_ms * interval '1 millisecond') AS start_at
          FROM unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::bytea[], ${p(5)}::text[],
            ${p(6)}::text[], ${p(7)}::text[], ${p(8)}::int[], ${p(9)}::text[], ${p(10)}::text[], ${p(11)}::text[],
            ${p(12)}::bigint[], ${p(13)}::bigint[], ${p(14)}::text[], ${p(15)}::text[], ${p(16)}::float8[], ${p(17)}::float8[],
            ${p(18)}::boolean[])
            AS u(id, name, status, input, executor_id, app_version, queue, priority, dedup_id,
              parent_id, user_name, timeout_ms, deadline, partition_key, schedule_id, start_ms, delay_ms, delayed)) v
        ON CONFLICT (id) DO NOTHING
        RETURNING id AS key`,
      ],
    ],
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
      rows.map((r) => r.deadline),
      rows.map((r) => r.partitionKey ?? null),
      rows.map((r) => r.scheduleId ?? null),
      rows.map((r) => r.startAt ?? null),
      rows.map((r) => r.delayMs ?? null),
      rows.map((r) => r.delayed ?? false),
    ],
    key: (r) => r.id,
  },
  recordStep: {
    ctes: (s, p) => [
      [
        'recordStep_out',
        `INSERT INTO ${s}.steps (workflow_id, step_id, name, output, error, child_workflow_id,
          started_at, event_key, attempts)
        SELECT v.workflow_id, v.step_id, v.name, v.output, v.error, v.child_workflow_id,
          to_timestamp(v.started_ms / 1000.0), v.event_key, v.attempts
        FROM unnest(${p(1)}::text[], ${p(2)}::int[], ${p(3)}::text[], ${p(4)}::bytea[], ${p(5)}::bytea[],
          ${p(6)}::text[], ${p(7)}::float8[], ${p(8)}::text[], ${p(9)}::int[])
          AS v(workflow_id, step_id, name, output, error, child_workflow_id, started_ms, event_key, attempts)
        -- No check that the workflow is still PENDING: measured (2,000 concurrent 3-step
        -- workflows at defaults, 3 alternating passes), an EXISTS on its status row here cost
        -- 12% (median 543 vs 616 workflows/s). A cancelled run is told instead (runtime/
        -- dispatcher.ts cancel), also when the cancel came before the run reached this process.
        ON CONFLICT (workflow_id, step_id) DO NOTHING
        RETURNING workflow_id || '/' || step_id AS key`,
      ],
    ],
    params: (rows) => [
      rows.map((r) => r.workflowId),
      rows.map((r) => r.stepId),
      rows.map((r) => r.name),
      rows.map((r) => r.output),
      rows.map((r) => r.error),
      rows.map((r) => r.childWorkflowId),
      rows.map((r) => r.startedAt),
      rows.map((r) => r.eventKey ?? null),
      rows.map((r) => r.attempts ?? null),
    ],
    key: (r) => `${r.workflowId}/${r.stepId}`,
  },
  sendMessage: {
    // A keyed message is delivered only if its key is new (the first of a batch wins);
    // messages keep the order listed.
    ctes: (s, p) => [
      [
        'sendMessage_v',
        `SELECT * FROM unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::bytea[], ${p(4)}::text[])
          WITH ORDINALITY AS v(destination_id, topic, message, idempotency_key, n)`,
        'materialized',
      ],
      [
        'sendMessage_fresh',
        `INSERT INTO ${s}.message_keys (destination_id, idempotency_key)
        SELECT destination_id, idempotency_key FROM sendMessage_v WHERE idempotency_key IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING destination_id, idempotency_key`,
      ],
      [
        'sendMessage_deliver',
        `(SELECT * FROM sendMessage_v WHERE idempotency_key IS NULL)
        UNION ALL
        (SELECT DISTINCT ON (v.destination_id, v.idempotency_key) v.*
         FROM sendMessage_v v JOIN sendMessage_fresh f USING (destination_id, idempotency_key)
         ORDER BY v.destination_id, v.idempotency_key, v.n)`,
        'materialized',
      ],
      [
        'sendMessage_sent',
        `INSERT INTO ${s}.messages (destination_id, topic, message)
        SELECT destination_id, topic, message FROM sendMessage_deliver ORDER BY n
        RETURNING 1`,
      ],
      // (data-modifying CTEs always run to completion, read or not)
      ['sendMessage_out', `SELECT n::text AS key FROM sendMessage_deliver`],
    ],
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
    ctes: (s, p) => [
      [
        'setEvent_out',
        `INSERT INTO ${s}.events (workflow_id, key, value)
        SELECT DISTINCT ON (v.workflow_id, v.key) v.workflow_id, v.key, v.value
        FROM unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::bytea[]) WITH ORDINALITY AS v(workflow_id, key, value, n)
        ORDER BY v.workflow_id, v.key, v.n DESC
        ON CONFLICT (workflow_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
        RETURNING workflow_id || '/' || key AS key`,
      ],
    ],
    params: (rows) => [rows.map((r) => r.workflowId), rows.map((r) => r.key), rows.map((r) => r.value)],
    key: (r) => `${r.workflowId}/${r.key}`,
    outcome: 'all',
  },
  finishWorkflow: {
    // Only a PENDING workflow of the finishing executor finishes: a cancelled or dead-lettered
    // one keeps its status, and one another executor took over is that executor's to finish.
    //
    // 'PENDING' comes from the rows (a subquery kept whole by OFFSET 0), so the status test is a
    // join clause, not a filter the planner estimates alone. As a filter, on a table not yet
    // analyzed (a new deployment's first minute, every bench database), it was estimated at a
    // handful of rows, and the plan drove from it: hashing every PENDING workflow (2,000 in
    // workload 1) or scanning the whole table once per row to finish the 30 of one flush, 5-50
    // ms a flush instead of 0.3, and alternate rounds of workload 1 ran at half speed
    // (auto_explain, perf; bench/PROFILES.md). Now a primary-key probe per row, or one
    // hash join over a still small table.
    ctes: (s, p) => [
      [
        'finishWorkflow_out',
        `UPDATE ${s}.workflow_status w
        SET status = v.status, output = v.output, error = v.error,
          updated_at = now(), completed_at = now()
        FROM (SELECT u.*, 'PENDING' AS expected FROM unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::bytea[],
          ${p(4)}::bytea[], ${p(5)}::text[]) AS u(id, status, output, error, executor_id) OFFSET 0) v
        WHERE w.id = v.id AND w.status = v.expected AND w.executor_id = v.executor_id
        RETURNING w.id AS key`,
      ],
    ],
    params: (rows) => [
      rows.map((r) => r.id),
      rows.map((r) => r.status),
      rows.map((r) => r.output),
      rows.map((r) => r.error),
      rows.map((r) => r.executorId),
    ],
    key: (r) => r.id,
  },
  parkWorkflow: {
    // only for recovery: a stale record is told apart by wait_step (migration 0004).
    // 'PENDING' from the rows: see finishWorkflow.
    ctes: (s, p) => [
      [
        'parkWorkflow_out',
        `UPDATE ${s}.workflow_status w
        SET wait_kind = v.kind, wait_for = v.wait_for, wait_name = v.wait_name,
          wake_at = to_timestamp(v.wake_ms / 1000.0), wait_step = v.wait_step
        FROM (SELECT DISTINCT ON (id) *, 'PENDING' AS expected FROM unnest(${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[],
          ${p(4)}::text[], ${p(5)}::float8[], ${p(6)}::int[], ${p(7)}::text[]) WITH ORDINALITY
          AS u(id, kind, wait_for, wait_name, wake_ms, wait_step, executor_id, n) ORDER BY id, n DESC) v
        WHERE w.id = v.id AND w.status = v.expected AND w.executor_id = v.executor_id
        RETURNING w.id AS key`,
      ],
    ],
    params: (rows) => [
      rows.map((r) => r.id),
      rows.map((r) => r.kind),
      rows.map((r) => r.waitFor),
      rows.map((r) => r.waitName),
      rows.map((r) => r.wakeAt),
      rows.map((r) => r.waitStep),
      rows.map((r) => r.executorId),
    ],
    key: (r) => r.id,
    outcome: 'all',
  },
  notify: {
    // delivered at COMMIT; Postgres folds identical notifications of one transaction into one
    ctes: (_s, p) => [
      ['notify_out', `SELECT '' AS key, pg_notify(c, p) FROM unnest(${p(1)}::text[], ${p(2)}::text[]) AS v(c, p)`],
    ],
    params: (rows) => [rows.map((r) => r.channel), rows.map((r) => r.payload)],
    key: () => '',
    outcome: 'all',
  },
};

const KINDS = Object.keys(statements) as Kind[];

/** A flush's statement for one combination of kinds in one schema: built once, prepared per connection. */
interface Shape {
  name: string;
  text: string;
  types: (ElementType | undefined)[];
}

const shapes = new Map<string, Shape>();

function shapeOf(schema: string, present: Kind[]): Shape {
  const label = `flush.${present.map((k) => KINDS.indexOf(k)).join('')}`;
  const cacheKey = `${schema}\0${label}`;
  let shape = shapes.get(cacheKey);
  if (shape) return shape;
  const ctes: string[] = [];
  const outs: string[] = [];
  let offset = 0;
  for (const kind of present) {
    const stmt = statements[kind] as Statement<Kind>;
    const at = offset;
    for (const [name, sql, materialized] of stmt.ctes(schema, (i) => `$${at + i}`)) {
      ctes.push(`${name} AS ${materialized ? 'MATERIALIZED ' : ''}(${sql})`);
    }
    offset += stmt.params([]).length;
    outs.push(`SELECT '${kind}' AS kind, key FROM ${kind}_out`);
  }
  const text = `WITH ${ctes.join(',\n')}\n${outs.join('\nUNION ALL ')}`;
  // named per combination of kinds, so each connection prepares each shape once
  shape = { name: statementName(schema, label), text, types: arrayParamTypes(text) };
  shapes.set(cacheKey, shape);
  return shape;
}

/**
 * Applies `ops` as ONE statement: a CTE per kind of write present (each a multi-row statement
 * over parallel arrays, sent packed in binary: storage/binary-arrays.ts), so a flush costs one
 * round trip and, outside an explicit transaction, commits on its own as a whole. Returns each
 * op's outcome, in order; among ops with the same key, the first listed wins. (Measured before
 * this, with BEGIN, a statement per kind and COMMIT: 2.2 ms per flush on 2 busy cores, and a
 * lone start() took 3.7 ms.)
 *
 * The CTEs share one snapshot and cannot see each other's rows. That is safe because no flush
 * holds two writes where one depends on the other: a workflow's steps are sent only after its
 * start committed, and its end only after its last step did.
 */
export async function applyOps(client: Pool | PoolClient, schema: string, ops: WriteOp[]): Promise<boolean[]> {
  const byKind = new Map<Kind, number[]>();
  ops.forEach((op, i) => {
    let list = byKind.get(op.kind);
    if (!list) byKind.set(op.kind, (list = []));
    list.push(i);
  });
  const present = KINDS.filter((k) => byKind.has(k));
  const shape = shapeOf(schema, present);
  const values: unknown[] = [];
  for (const kind of present) {
    const stmt = statements[kind] as Statement<Kind>;
    for (const param of stmt.params(byKind.get(kind)!.map((i) => ops[i]!.row))) {
      const type = shape.types[values.length];
      values.push(type ? packArray(type, param as unknown[]) : param);
    }
  }
  const result = await client.query<{ kind: Kind; key: string }>({ name: shape.name, text: shape.text, values });
  const written = new Map<Kind, Set<string>>();
  for (const r of result.rows) {
    let set = written.get(r.kind);
    if (!set) written.set(r.kind, (set = new Set()));
    set.add(r.key);
  }
  const outcome = new Array<boolean>(ops.length).fill(false);
  for (const kind of present) {
    const stmt = statements[kind] as Statement<Kind>;
    const keys = written.get(kind) ?? new Set<string>();
    const all = stmt.outcome === 'all';
    byKind.get(kind)!.forEach((i, j) => {
      const key = stmt.key(ops[i]!.row, j);
      if (all ? keys.has(key) : keys.delete(key)) outcome[i] = true;
    });
  }
  return outcome;
}
