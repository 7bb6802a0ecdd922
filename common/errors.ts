// The public error hierarchy. It lives in common/ because both sides of
// the thread boundary throw these: errors cross as data (see codec.ts) and are rebuilt by name,
// so `instanceof` and `code` survive the trip from a worker to the caller.

export class SkeinError extends Error {
  readonly code: string = 'SKEIN_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A `dedupId` is held by another ENQUEUED or PENDING workflow of the same queue. */
export class DuplicateWorkflowError extends SkeinError {
  override readonly code = 'DUPLICATE_WORKFLOW';
}

/** Why a workflow was cancelled: by a cancelWorkflow call, or because it passed its deadline. */
export type CancelReason = 'cancelled' | 'deadline';

export class WorkflowCancelledError extends SkeinError {
  override readonly code = 'WORKFLOW_CANCELLED';
  /** an own property, so it survives the trip through the codec */
  readonly reason: CancelReason;
  constructor(message: string, options?: { cause?: unknown; reason?: CancelReason }) {
    super(message, options);
    this.reason = options?.reason ?? 'cancelled';
  }
}

/** A step's attempt ran past its `timeoutMs` (retried like any error). */
export class StepTimeoutError extends SkeinError {
  override readonly code = 'STEP_TIMEOUT';
}

/** A replay reached a step whose recorded name differs from the one the code calls now. */
export class NonDeterminismError extends SkeinError {
  override readonly code = 'NON_DETERMINISM';
}

export class MaxRecoveryAttemptsError extends SkeinError {
  override readonly code = 'MAX_RECOVERY_ATTEMPTS';
}

/** A value that cannot be stored. Raised before anything is written. */
export class SerializationError extends SkeinError {
  override readonly code = 'SERIALIZATION';
}

export class UnknownWorkflowError extends SkeinError {
  override readonly code = 'UNKNOWN_WORKFLOW';
}

/** Another executor recorded the same step first; the loser stops quietly. */
export class ConflictError extends SkeinError {
  override readonly code = 'CONFLICT';
}

/** A wait of the caller's (result({ timeoutMs })) ran out; the workflow itself goes on. */
export class TimeoutError extends SkeinError {
  override readonly code = 'TIMEOUT';
}

export class ConfigError extends SkeinError {
  override readonly code = 'CONFIG';
}

/**
 * An Error subclass, whatever its constructor takes: the codec rebuilds instances without
 * calling it (Reflect.construct with it as new.target), so only its prototype matters.
 */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Every class above, by name (its class name): the codec rebuilds them on the receiving side. */
export const skeinErrorClasses: ReadonlyMap<string, new (message: string) => Error> = new Map(
  [
    SkeinError,
    DuplicateWorkflowError,
    WorkflowCancelledError,
    StepTimeoutError,
    NonDeterminismError,
    MaxRecoveryAttemptsError,
    SerializationError,
    UnknownWorkflowError,
    TimeoutError,
    ConflictError,
    ConfigError,
  ].map((cls) => [cls.name, cls]),
);
