// skein's public entry point. Everything a user imports comes from here.
export { Skein } from './skein.ts';
export { Client, type ClientConfig, type EnqueueOptions } from './client.ts';
export { workflow } from '../common/workflow.ts';
export type { Workflow, WorkflowOptions } from '../common/workflow.ts';
export type { WorkflowContext, StepContext, StepOptions, ChildHandle, ChildOptions } from '../common/workflow.ts';
export type { TransactionClient, TransactionOptions, IsolationLevel } from '../common/workflow.ts';
export type { WorkflowHandle } from './handle.ts';
export type { WorkflowStatus, StepInfo, Status } from './status.ts';
export type { StartOptions, ListFilter } from './options.ts';
export type { ScheduleOptions, ScheduleInfo } from './schedules.ts';
export type { DebounceOptions } from './debounce.ts';
export type { SkeinConfig, QueueConfig, Retention, DatasourceConfig } from './config.ts';
export type { Logger, LogFields } from '../common/logger.ts';
export type { WriterStats } from '../storage/writer.ts';
export type { ExecutorInfo } from '../storage/executors.ts';
export type { QueueSummary } from '../storage/queue-summary.ts';
export type { WaiterStats } from './waiters.ts';
export type { SkeinMetrics, Histogram } from './metrics.ts';
export type { AdminConfig } from './admin.ts';
export {
  SkeinError,
  DuplicateWorkflowError,
  WorkflowCancelledError,
  StepTimeoutError,
  NonDeterminismError,
  MaxRecoveryAttemptsError,
  SerializationError,
  UnknownWorkflowError,
  ConflictError,
  TimeoutError,
  ConfigError,
} from '../common/errors.ts';
export type { CancelReason } from '../common/errors.ts';
