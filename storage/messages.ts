// Message consumption and event reads. Sends and event writes go through the group-commit
// writer (write-ops.ts); a consumption returns the message it took, so it runs on its own.
import { skeinError } from './pg-errors.ts';
import type { Pool } from './database.ts';
import { statementName, wakeupChannel } from './identifiers.ts';
import type { Notification } from './write-ops.ts';
import type { CancelReason } from '../common/errors.ts';

/**
 * Takes the oldest message of `destinationId` on `topic` and records it as step `stepId` of
 * that workflow, in one statement: either both happen or neither. Returns the message bytes,
 * or null when the inbox is empty. ConflictError if the step was recorded meanwhile (another
 * execution of the same workflow), in which case no message is taken.
 */
export async function consumeMessage(
  pool: Pool,
  schema: string,
  destinationId: string,
  topic: string,
  stepId: number,
  name: string,
): Promise<Buffer | null> {
  try {
    const { rows } = await pool.query<{ output: Buffer }>({
      name: statementName(schema, 'consumeMessage'),
      text: `
        WITH taken AS (
          DELETE FROM ${schema}.messages WHERE id = (
            SELECT id FROM ${schema}.messages WHERE destination_id = $1 AND topic = $2
            ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
            -- a workflow no longer PENDING (cancelled) takes nothing
            AND EXISTS (SELECT 1 FROM ${schema}.workflow_status w WHERE w.id = $1 AND w.status = 'PENDING')
          RETURNING message)
        INSERT INTO ${schema}.steps (workflow_id, step_id, name, output, started_at)
        SELECT $1, $3, $4, message, now() FROM taken
        RETURNING output`,
      values: [destinationId, topic, stepId, name],
    });
    return rows[0]?.output ?? null;
  } catch (err) {
    throw skeinError(err, { step: { workflowId: destinationId, stepId } });
  }
}

export async function readEvent(pool: Pool, schema: string, workflowId: string, key: string): Promise<Buffer | null> {
  const { rows } = await pool.query<{ value: Buffer }>({
    name: statementName(schema, 'readEvent'),
    text: `SELECT value FROM ${schema}.events WHERE workflow_id = $1 AND key = $2`,
    values: [workflowId, key],
  });
  return rows[0]?.value ?? null;
}

/**
 * The one LISTEN channel of a schema. Payloads say what changed, and are the keys waiters
 * register under: `m:<destination>::<topic>`, `e:<workflow>::<key>`, `d:<workflow>` (done),
 * `q:<queue>`.
 */
export function notifyChannel(schema: string): string {
  // one definition, which the schema name's validation measures (identifiers.ts)
  return wakeupChannel(schema);
}

/** The write that wakes whoever waits on `payload`, delivered when its flush commits. */
export function notifyOp(schema: string, payload: string): { kind: 'notify'; row: Notification } {
  return { kind: 'notify', row: { channel: notifyChannel(schema), payload } };
}

export const wakeKey = {
  message: (destinationId: string, topic: string) => `m:${destinationId}::${topic}`,
  event: (workflowId: string, key: string) => `e:${workflowId}::${key}`,
  done: (workflowId: string) => `d:${workflowId}`,
  /** something was enqueued on, or a running workflow of, `queue` ended */
  queue: (queue: string) => `q:${queue}`,
  /** a delayed start was written: timers look again for the next one due */
  delays: 't:delays',
  /** a dynamic schedule was created or changed: timers look again for the next tick */
  schedules: 't:schedules',
  /** an executor registered: watchers read the ring again */
  executors: 'x:executors',
  /** workflow `id` was cancelled: `c:` + force flag + reason flag + `:` + id (see parseCancel) */
  cancelPrefix: (reason: CancelReason, force: boolean) => `c:${force ? 'f' : '-'}${reason === 'deadline' ? 'd' : 'c'}:`,
};

/** What a cancel notification says, or null if `key` is not one. */
export function parseCancel(key: string): { id: string; reason: CancelReason; force: boolean } | null {
  if (!key.startsWith('c:') || key[4] !== ':') return null;
  return { id: key.slice(5), force: key[2] === 'f', reason: key[3] === 'd' ? 'deadline' : 'cancelled' };
}

/** A wake-up outside the writer, for the rare status changes made by a direct statement. */
export async function notify(pool: Pool, schema: string, payload: string): Promise<void> {
  await pool.query('SELECT pg_notify($1, $2)', [notifyChannel(schema), payload]);
}
