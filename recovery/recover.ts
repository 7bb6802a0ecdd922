// Recovery runs on the main thread. A workflow is re-dispatched with its recorded steps, so
// completed steps are replayed, not re-run. Every dispatch of an existing workflow counts one
// attempt; past its workflow's maxRecoveryAttempts it is dead-lettered instead.
//   - launch / recoverPendingWorkflows: PENDING workflows of given executors and this version;
//   - thread death: the executions that were on the dead thread (see redispatch below).
import { isTransient, type Pool } from '../storage/database.ts';
import { notify, wakeKey } from '../storage/messages.ts';
import { requeue } from '../storage/queues.ts';
import { loadSteps } from '../storage/steps.ts';
import { claimAttempt, findPendingWorkflows } from '../storage/workflows.ts';
import type { Workflow } from '../threads/workflow.ts';
import type { Execution, RecordedStep } from '../threads/protocol.ts';

export interface RecoveryDeps {
  pool: Pool;
  schema: string;
  executorId: string;
  appVersion: string;
  workflows: ReadonlyMap<string, Workflow>;
  log(message: string): void;
}

/** A workflow's recorded steps, as a replay needs them. */
export async function recordedSteps(pool: Pool, schema: string, id: string): Promise<RecordedStep[]> {
  return (await loadSteps(pool, schema, id)).map((s) => ({
    stepId: s.step_id,
    name: s.name,
    output: s.output,
    error: s.error,
    childWorkflowId: s.child_workflow_id,
  }));
}

/** Claims the next attempt of a PENDING workflow and loads its steps; null if not to run here. */
async function claim(
  deps: RecoveryDeps,
  wf: { id: string; name: string; input: Uint8Array; queue?: string },
  fromExecutorIds: string[],
): Promise<Execution | null> {
  const def = deps.workflows.get(wf.name);
  if (!def) {
    deps.log(`skein: cannot recover ${wf.id}: workflow '${wf.name}' is not registered here`);
    return null;
  }
  const { pool, schema } = deps;
  const max = def.options.maxRecoveryAttempts;
  const claimed = await claimAttempt(pool, schema, wf.id, fromExecutorIds, deps.executorId, max);
  if (!claimed) return null;
  if (claimed.status !== 'PENDING') {
    await notify(pool, schema, wakeKey.done(wf.id)); // dead-lettered: wake those awaiting it
    return null;
  }
  const steps = await recordedSteps(pool, schema, wf.id);
  return { id: wf.id, name: wf.name, queue: wf.queue, input: wf.input, attempt: claimed.attempts, steps };
}

/**
 * The PENDING workflows of `executorIds`: those of a queue go back to it (so its limits still
 * count them; the dequeue counts the attempt), the others are claimed for this executor and
 * returned ready to dispatch. `requeued` lists the IDs put back.
 */
export async function recoverPending(
  deps: RecoveryDeps,
  executorIds: string[],
): Promise<{ executions: Execution[]; requeued: string[] }> {
  const { pool, schema } = deps;
  const pending = await findPendingWorkflows(pool, schema, executorIds, deps.appVersion);
  const executions: Execution[] = [];
  const requeued: string[] = [];
  for (const row of pending) {
    if (row.queue !== null) {
      const queue = await requeue(pool, schema, row.id, executorIds);
      if (queue !== null) {
        await notify(pool, schema, wakeKey.queue(queue));
        requeued.push(row.id);
      }
      continue;
    }
    const exec = await claim(deps, { id: row.id, name: row.name, input: row.input! }, executorIds);
    if (exec) executions.push(exec);
  }
  return { executions, requeued };
}

/**
 * The next execution of a workflow whose thread died (or whose checkpoint could not be
 * written), or null when it must not run again here: finished, taken by another process, or
 * dead-lettered. Waits out database outages, since the workflow cannot move without it.
 */
export async function redispatch(
  deps: RecoveryDeps,
  exec: Execution,
  closing: () => boolean,
): Promise<Execution | null> {
  for (let pause = 50; ; pause = Math.min(pause * 2, 5000)) {
    if (closing()) return null;
    try {
      return await claim(deps, exec, [deps.executorId]);
    } catch (err) {
      if (!isTransient(err)) deps.log(`skein: recovering ${exec.id}: ${err}`);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
