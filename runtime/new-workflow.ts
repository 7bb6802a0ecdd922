// Writing a new workflow's row, for Skein.start, a workflow's child start and Client.enqueue:
// the insert, the wake-up of the queue it joins, and the deduplication error.
import { notifyOp, wakeKey } from '../storage/messages.ts';
import type { NewWorkflow, WriteOp } from '../storage/write-ops.ts';
import type { GroupCommitWriter } from '../storage/writer.ts';
import { DuplicateWorkflowError } from '../threads/errors.ts';

/** The writes that create `row`; an enqueued row also wakes its queue's runners. */
export function newWorkflowOps(schema: string, row: NewWorkflow): WriteOp[] {
  const ops: WriteOp[] = [{ kind: 'insertWorkflow', row }];
  if (row.queue !== null) {
    ops.push(notifyOp(schema, wakeKey.queue(row.queue)));
  }
  return ops;
}

/**
 * Commits `ops` (which create a workflow) and returns each op's outcome. A dedup ID held by a
 * live workflow of the same queue is a DuplicateWorkflowError, with nothing written.
 */
export async function writeNewWorkflow(writer: GroupCommitWriter, row: NewWorkflow, ops: WriteOp[]): Promise<boolean[]> {
  try {
    return await writer.write(ops);
  } catch (err) {
    const e = err as { code?: string; constraint?: string };
    if (e.code === '23505' && e.constraint === 'workflow_status_dedup') {
      throw new DuplicateWorkflowError(
        `dedupId '${row.dedupId}' is held by an enqueued or running workflow of queue '${row.queue}'`,
        { cause: err },
      );
    }
    throw err;
  }
}
