// The mapping of storage rows onto the public shapes of workflow and step records (common/status.ts). Payloads are
// decoded here only because a caller asked for them (status, list, steps), never on the hot path.
import type { StepRow } from '../storage/steps.ts';
import type { WorkflowRow } from '../storage/workflows.ts';
import type { StepInfo, WorkflowStatus } from '../common/status.ts';
import { decodeError, decodeValue, type ErrorClasses } from '../common/codec.ts';

export type { Status, StepInfo, WorkflowStatus } from '../common/status.ts';
export { TERMINAL } from '../common/status.ts';

/**
 * Drops undefined entries, so absent fields are absent. (Columns map NULL to undefined first;
 * a decoded payload that is itself null, such as a recv that timed out, stays null.)
 */
function defined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}

export function toWorkflowStatus(row: WorkflowRow, classes: ErrorClasses): WorkflowStatus {
  return defined({
    id: row.id,
    name: row.name,
    status: row.status,
    input: row.input ? decodeValue(row.input) : undefined,
    output: row.output ? decodeValue(row.output) : undefined,
    error: row.error ? decodeError(row.error, classes) : undefined,
    executorId: row.executor_id,
    appVersion: row.app_version ?? undefined,
    queue: row.queue ?? undefined,
    priority: row.priority,
    dedupId: row.dedup_id ?? undefined,
    attempts: row.attempts,
    parentId: row.parent_id ?? undefined,
    forkedFrom: row.forked_from ?? undefined,
    user: row.user_name ?? undefined,
    timeoutMs: row.timeout_ms === null ? undefined : Number(row.timeout_ms),
    deadline: row.deadline ?? undefined,
    partitionKey: row.partition_key ?? undefined,
    startAt: row.start_at ?? undefined,
    scheduleId: row.schedule_id ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at ?? undefined,
    completedAt: row.completed_at ?? undefined,
  });
}

export function toStepInfo(row: StepRow, classes: ErrorClasses): StepInfo {
  return defined({
    stepId: row.step_id,
    name: row.name,
    output: row.output ? decodeValue(row.output) : undefined,
    error: row.error ? decodeError(row.error, classes) : undefined,
    childWorkflowId: row.child_workflow_id ?? undefined,
    startedAt: row.started_at ?? undefined,
    completedAt: row.completed_at,
  });
}
