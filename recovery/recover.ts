// Recovery runs on the main thread. A workflow runs again from its recorded steps, so completed
// steps are replayed, not re-run. Each run after an interruption counts one attempt; past its
// workflow's maxRecoveryAttempts it is dead-lettered instead. A parked workflow woken in the
// same process is not an interruption and counts none.
//   - launch / recoverPendingWorkflows: PENDING workflows of given executors and this version.
//     Those that were parked get their wake condition re-armed (nothing runs until it holds);
//     the others wait for a slot. Either way they are claimed, one attempt, when they run.
//   - thread death: the workflows that were on the dead thread (dispatcher).
import type { Logger } from '../common/logger.ts';
import type { Pool } from '../storage/database.ts';
import { isTransient } from '../storage/pg-errors.ts';
import { notify, wakeKey } from '../storage/messages.ts';
import {
  loadExecution,
  requeuePending,
  takePendingWorkflows,
  type LoadedExecution,
  type PendingRow,
  type WakeCondition,
} from '../storage/parking.ts';
import { loadSteps } from '../storage/steps.ts';
import { claimAttempt } from '../storage/workflows.ts';
import type { Workflow } from '../common/workflow.ts';
import type { Execution, RecordedStep } from '../common/protocol.ts';

export interface RecoveryDeps {
  pool: Pool;
  schema: string;
  executorId: string;
  appVersion: string;
  workflows: ReadonlyMap<string, Workflow>;
  logger: Logger;
  /** told of each workflow dead-lettered here (metrics) */
  deadLettered?(): void;
}

/**
 * How the next execution of a workflow is loaded. `wake`: it parked in this process, just
 * load it. `claim`: it was interrupted (or is recovered from `from`, 'self' meaning this
 * executor): count an attempt and take it, then load it.
 */
export type Preparation = { how: 'wake' } | { how: 'claim'; from: string[] | 'self' };

/** A workflow's recorded steps, as a replay needs them. */
export async function recordedSteps(pool: Pool, schema: string, id: string): Promise<RecordedStep[]> {
  return (await loadSteps(pool, schema, id)).map(toRecorded);
}

function toRecorded(s: LoadedExecution['steps'][number]): RecordedStep {
  return { stepId: s.step_id, name: s.name, output: s.output, error: s.error, childWorkflowId: s.child_workflow_id };
}

async function prepareOnce(
  deps: RecoveryDeps,
  wf: { id: string; name: string; queue?: string },
  prep: Preparation,
): Promise<Execution | null> {
  const { pool, schema } = deps;
  if (prep.how === 'claim') {
    const def = deps.workflows.get(wf.name);
    if (!def) {
      deps.logger.warn('skein: cannot recover a workflow that is not registered here', { workflowId: wf.id, name: wf.name });
      return null;
    }
    const from = prep.from === 'self' ? [deps.executorId] : prep.from;
    const claimed = await claimAttempt(pool, schema, wf.id, from, deps.executorId, def.options.maxRecoveryAttempts);
    if (!claimed) return null;
    if (claimed.status !== 'PENDING') {
      deps.logger.warn('skein: a workflow was dead-lettered (MAX_RECOVERY_ATTEMPTS_EXCEEDED) after too many interrupted runs', {
        workflowId: wf.id,
        name: wf.name,
        attempts: claimed.attempts,
      });
      deps.deadLettered?.();
      await notify(pool, schema, wakeKey.done(wf.id)); // dead-lettered: wake those awaiting it
      return null;
    }
  }
  const loaded = await loadExecution(pool, schema, wf.id, deps.executorId);
  if (!loaded) return null;
  return {
    id: wf.id,
    name: wf.name,
    queue: wf.queue,
    input: loaded.input,
    attempt: loaded.attempts,
    steps: loaded.steps.map(toRecorded),
  };
}

/**
 * The next execution of a workflow, or null when it must not run here: finished, taken by
 * another process, or dead-lettered. Waits out database outages, since the workflow cannot
 * move without it.
 */
export async function prepareExecution(
  deps: RecoveryDeps,
  wf: { id: string; name: string; queue?: string },
  prep: Preparation,
  closing: () => boolean,
): Promise<Execution | null> {
  for (let pause = 50; ; pause = Math.min(pause * 2, 5000)) {
    if (closing()) return null;
    try {
      return await prepareOnce(deps, wf, prep);
    } catch (err) {
      if (!isTransient(err)) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

export interface Backlog {
  /** to run when a slot frees */
  run: { id: string; name: string; deadline?: number }[];
  /** parked when the process stopped: re-arm, run when the condition holds */
  parked: { id: string; name: string; deadline?: number; wait: WakeCondition }[];
  /** queued workflows put back in their queue */
  requeued: string[];
}

/** The wake condition of a valid (not stale) wait record, else null. */
export function waitOf(row: PendingRow): WakeCondition | null {
  if (row.wait_kind === null || row.wait_step === null) return null;
  if (row.last_step !== null && row.last_step >= row.wait_step) return null; // it moved on
  const until = row.wake_at?.getTime();
  switch (row.wait_kind) {
    case 'time':
      return until === undefined ? null : { kind: 'time', until, stepId: row.wait_step };
    case 'message':
      return {
        kind: 'message', key: wakeKey.message(row.wait_for!, row.wait_name!),
        target: [row.wait_for!, row.wait_name!], until, stepId: row.wait_step,
      };
    case 'event':
      return {
        kind: 'event', key: wakeKey.event(row.wait_for!, row.wait_name!),
        target: [row.wait_for!, row.wait_name!], until, stepId: row.wait_step,
      };
    case 'done':
      return { kind: 'done', key: wakeKey.done(row.wait_for!), target: [row.wait_for!], until, stepId: row.wait_step };
    default:
      return null;
  }
}

/**
 * The PENDING workflows of `executorIds`: those of a queue go back to it (so its limits still
 * count them; the dequeue counts the attempt); the others are taken for this executor and
 * sorted into those to run and those to re-arm. Two statements, whatever the backlog; no
 * attempt is counted until each runs.
 */
export async function recoverPending(deps: RecoveryDeps, executorIds: string[]): Promise<Backlog> {
  const { pool, schema } = deps;
  const requeued = await requeuePending(pool, schema, executorIds, deps.appVersion);
  for (const queue of new Set(requeued.map((r) => r.queue))) await notify(pool, schema, wakeKey.queue(queue));
  const taken = await takePendingWorkflows(pool, schema, executorIds, deps.executorId, deps.appVersion);
  const backlog: Backlog = { run: [], parked: [], requeued: requeued.map((r) => r.id) };
  for (const row of taken) {
    const wait = waitOf(row);
    // its original deadline, durable: one that passed while no process ran it fires at once
    const deadline = row.deadline?.getTime();
    if (wait) backlog.parked.push({ id: row.id, name: row.name, deadline, wait });
    else backlog.run.push({ id: row.id, name: row.name, deadline });
  }
  return backlog;
}
