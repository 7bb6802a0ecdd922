// Writing a new workflow's row, for Skein.start, a workflow's child start and Client.enqueue:
// the insert, the wake-up of the queue it joins, the deduplication error, and the conflict of an
// ID that already belongs to another workflow.
import type { Pool } from '../storage/database.ts';
import { notifyOp, wakeKey } from '../storage/messages.ts';
import { workflowName } from '../storage/workflows.ts';
import type { NewWorkflow, WriteOp } from '../storage/write-ops.ts';
import type { GroupCommitWriter } from '../storage/writer.ts';
import { ConflictError } from '../common/errors.ts';

/**
 * Whether a start waits: its row is then ENQUEUED (in the internal queue if it names none)
 * until the timers release it. Any startAt waits, even one past by this host's clock: only the
 * database's clock decides (a host whose clock runs ahead would otherwise start it early), and
 * the timers release one already due at once.
 */
export function isDelayed(o: { delayMs?: number; startAt?: Date }): boolean {
  return (o.delayMs ?? 0) > 0 || o.startAt !== undefined;
}

/**
 * The writes that create `row`; an enqueued row also wakes its queue's runners, or, when it is
 * delayed, every process's timers (its queue is woken when it is due).
 */
export function newWorkflowOps(schema: string, row: NewWorkflow): WriteOp[] {
  const ops: WriteOp[] = [{ kind: 'insertWorkflow', row }];
  if (row.queue !== null) {
    ops.push(notifyOp(schema, row.delayed ? wakeKey.delays : wakeKey.queue(row.queue)));
  }
  return ops;
}

export interface NewWorkflowTarget {
  writer: GroupCommitWriter;
  /** reads the existing row's name, when the insert lost to one */
  pool: Pool;
  schema: string;
  /** told of each row written (metrics, and the trace its runs join) */
  created?(row: NewWorkflow): void;
}

export interface NewWorkflowOutcome {
  /** the row was written; false: a row with its ID existed */
  inserted: boolean;
  /** that existing row belongs to another workflow: nothing of `row` was inserted */
  conflict?: ConflictError;
}

/**
 * Commits `ops` (the first of which inserts `row`). A dedup ID held by a live workflow of the
 * same queue is a DuplicateWorkflowError, with nothing written. An ID that exists already is
 * fine when it is the same workflow's (starting it again runs nothing); another workflow's is
 * returned as a conflict, for the caller to throw. The existing row's name is read only then,
 * so a new ID costs one round trip as before.
 */
export async function writeNewWorkflow(to: NewWorkflowTarget, row: NewWorkflow, ops: WriteOp[]): Promise<NewWorkflowOutcome> {
  // a dedup ID held elsewhere rejects with DuplicateWorkflowError (storage/pg-errors.ts)
  const [inserted = false] = await to.writer.write(ops);
  if (inserted) {
    to.created?.(row);
    return { inserted };
  }
  // null: deleted since the insert lost; nothing to contradict, as when the row was the same workflow's
  const name = await workflowName(to.pool, to.schema, row.id);
  if (name === null || name === row.name) return { inserted };
  return {
    inserted,
    conflict: new ConflictError(
      `workflow ID ${JSON.stringify(row.id)} belongs to workflow '${name}', ` +
        `so it cannot be started as workflow '${row.name}'`,
    ),
  };
}
