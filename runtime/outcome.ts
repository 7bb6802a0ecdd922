// Waiting for a workflow's end and turning it into a value or a thrown error.
import { isTransient, type Pool } from '../storage/database.ts';
import { getOutcome, type WorkflowRow } from '../storage/workflows.ts';
import { decodeError, decodeValue, type ErrorClasses } from '../threads/codec.ts';
import { MaxRecoveryAttemptsError, SkeinError, WorkflowCancelledError } from '../threads/errors.ts';
import type { Dispatcher } from './dispatcher.ts';
import { TERMINAL } from './status.ts';

type Outcome = Pick<WorkflowRow, 'status' | 'output' | 'error'>;

/**
 * Resolves with the terminal outcome of workflow `id`. A workflow running in this process is
 * awaited directly; anything else is read from Postgres, re-read with backoff until it ends.
 */
export async function awaitOutcome(
  pool: Pool,
  schema: string,
  dispatcher: Dispatcher,
  id: string,
): Promise<Outcome> {
  let pause = 20;
  for (;;) {
    try {
      const local = dispatcher.completion(id);
      const c = local && (await local);
      if (c && c.status !== 'STOPPED') {
        return { status: c.status, output: c.output as Buffer | null, error: c.error as Buffer | null };
      }
      const row = await getOutcome(pool, schema, id);
      if (!row) throw new SkeinError(`no workflow with ID '${id}'`);
      if (TERMINAL.has(row.status)) return row;
    } catch (err) {
      // The database being briefly away does not end the wait; anything else does.
      if (!isTransient(err)) throw err;
    }
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 1000);
  }
}

export function settle<O>(id: string, outcome: Outcome, classes: ErrorClasses): O {
  switch (outcome.status) {
    case 'SUCCESS':
      return outcome.output ? decodeValue<O>(outcome.output) : (undefined as O);
    case 'ERROR':
      throw decodeError(outcome.error!, classes);
    case 'CANCELLED':
      throw new WorkflowCancelledError(`workflow ${id} was cancelled`);
    case 'MAX_RECOVERY_ATTEMPTS_EXCEEDED':
      throw new MaxRecoveryAttemptsError(
        `workflow ${id} exceeded its maximum recovery attempts and was dead-lettered`,
      );
    default:
      throw new SkeinError(`workflow ${id} has not finished (${outcome.status})`);
  }
}
