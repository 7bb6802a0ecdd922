// Turning a workflow's terminal outcome into its value or its thrown error.
import type { WorkflowRow } from '../storage/workflows.ts';
import { decodeError, decodeValue, type ErrorClasses } from '../common/codec.ts';
import { MaxRecoveryAttemptsError, SkeinError, WorkflowCancelledError } from '../common/errors.ts';

export type Outcome = Pick<WorkflowRow, 'status' | 'output' | 'error'>;

export function settle<O>(id: string, outcome: Outcome, classes: ErrorClasses): O {
  switch (outcome.status) {
    case 'SUCCESS':
      return outcome.output ? decodeValue<O>(outcome.output) : (undefined as O);
    case 'ERROR':
      throw decodeError(outcome.error!, classes);
    case 'CANCELLED':
      // the recorded error says why (reason 'cancelled' or 'deadline'); rows cancelled before it was recorded have none
      throw outcome.error ? decodeError(outcome.error, classes) : new WorkflowCancelledError(`workflow ${id} was cancelled`);
    case 'MAX_RECOVERY_ATTEMPTS_EXCEEDED':
      throw new MaxRecoveryAttemptsError(
        `workflow ${id} exceeded its maximum recovery attempts and was dead-lettered`,
      );
    default:
      throw new SkeinError(`workflow ${id} has not finished (${outcome.status})`);
  }
}
