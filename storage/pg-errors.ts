// What a Postgres error means to skein: the one place that reads SQLSTATEs and constraint
// names. Classifiers (transient? the server saying goodbye? answered?) for retry decisions, and
// skeinError(), which turns a refusal into the typed error its caller is promised (API.md,
// Errors): a held dedup ID, a step another execution recorded first, a value the server will
// never store.
import { ConflictError, DuplicateWorkflowError, SerializationError } from '../common/errors.ts';

// shared with datasources/ (a user's transaction retries on the same failures), so in common/
export { isTransient } from '../common/transient.ts';
import { isTransient } from '../common/transient.ts';

/**
 * Whether an error on an idle connection is the server ending it on purpose (a shutdown or
 * restart, pg_terminate_backend): the pool drops that connection and the next query opens
 * another, so nothing is lost and nobody needs to be told at the default log level.
 */
export function isServerGoodbye(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '57P01' || code === '57P02' || code === '57P03';
}

/**
 * An error the server sent about the statement (it has a SQLSTATE), not about the connection:
 * the statement did not commit, and the connection can go on.
 */
export function fromServer(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|57)/.test(code);
}

/**
 * The server refused the write for what it carries, not for the moment (class 22, a data
 * exception; 54, a limit such as an index row over 2,704 bytes): written again it fails again.
 * Its caller gets a SerializationError, a fault of that workflow's alone.
 */
function refusedForWhatItCarries(err: unknown): boolean {
  return fromServer(err) && /^(22|54)/.test((err as { code: string }).code);
}

/**
 * Whether the statement's fate is known: the server answered it (an error it sent), or it was
 * never sent (the driver failed building it). Unknown when the connection was lost meanwhile.
 */
export function answered(err: unknown): boolean {
  return fromServer(err) || !isTransient(err);
}

/** What a failed write was about, so its error can say so. */
export interface Refused {
  /** the kinds of write in the unit, for messages */
  kinds?: string;
  /** a new workflow's dedup ID and queue */
  dedup?: { dedupId: string | null; queue: string | null };
  /** a step being recorded */
  step?: { workflowId: string; stepId: number };
}

/**
 * The typed error a Postgres refusal stands for, or `err` itself when it stands for none (a
 * transient failure, a bug): 23505 on the dedup index is a DuplicateWorkflowError, on the steps
 * key a ConflictError (another execution recorded the step first); class 22 or 54 (a value the
 * server refuses whenever it is written) a SerializationError.
 */
export function skeinError(err: unknown, about: Refused = {}): unknown {
  const { code, constraint } = (err ?? {}) as { code?: unknown; constraint?: unknown };
  if (code === '23505' && constraint === 'workflow_status_dedup' && about.dedup) {
    return new DuplicateWorkflowError(
      `dedupId '${about.dedup.dedupId}' is held by an enqueued or running workflow of queue '${about.dedup.queue}'`,
      { cause: err },
    );
  }
  if (code === '23505' && constraint === 'steps_pkey' && about.step) {
    return new ConflictError(
      `step ${about.step.stepId} of workflow ${about.step.workflowId} was already recorded by another execution`,
      { cause: err },
    );
  }
  if (refusedForWhatItCarries(err)) {
    return new SerializationError(`${about.kinds ?? 'a write'} cannot be stored: ${(err as Error).message}`, { cause: err });
  }
  return err;
}

/** A refusal by a constraint (class 23): an answer its caller handles, not a fault to log. */
export function isConstraint(err: unknown): boolean {
  return String((err as { code?: unknown } | null)?.code).startsWith('23');
}
