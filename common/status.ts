// The public shapes of workflow and step records. Types only (and the status names): both sides
// use them, the worker for a child's status, main for status, list and steps; runtime/status.ts
// maps storage rows onto them.

export type Status =
  | 'PENDING'
  | 'ENQUEUED'
  | 'SUCCESS'
  | 'ERROR'
  | 'CANCELLED'
  | 'MAX_RECOVERY_ATTEMPTS_EXCEEDED';

export const STATUSES: readonly Status[] = [
  'PENDING',
  'ENQUEUED',
  'SUCCESS',
  'ERROR',
  'CANCELLED',
  'MAX_RECOVERY_ATTEMPTS_EXCEEDED',
];

export const TERMINAL: ReadonlySet<Status> = new Set<Status>([
  'SUCCESS',
  'ERROR',
  'CANCELLED',
  'MAX_RECOVERY_ATTEMPTS_EXCEEDED',
]);

export interface WorkflowStatus {
  id: string;
  name: string;
  status: Status;
  input?: unknown;
  output?: unknown;
  error?: unknown;
  executorId: string;
  /** absent: enqueued without one (a Client), so an executor of any version may run it */
  appVersion?: string;
  queue?: string;
  priority: number;
  dedupId?: string;
  attempts: number;
  parentId?: string;
  forkedFrom?: string;
  user?: string;
  timeoutMs?: number;
  deadline?: Date;
  /** the partition of its queue it counts in */
  partitionKey?: string;
  /** a delayed start: not before this time (ENQUEUED until then) */
  startAt?: Date;
  /** the run of a schedule: a dynamic schedule's ID, or the scheduled workflow's name */
  scheduleId?: string;
  createdAt: Date;
  updatedAt: Date;
  startedAt?: Date;
  completedAt?: Date;
}

export interface StepInfo {
  stepId: number;
  name: string;
  output?: unknown;
  error?: unknown;
  childWorkflowId?: string;
  startedAt?: Date;
  completedAt?: Date;
}
