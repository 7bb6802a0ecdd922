// Recovery of PENDING workflows: at launch for this executor, or on demand for others (a dead
// process's work). Runs on the main thread; each recovered workflow is dispatched with its
// recorded steps, so completed steps are replayed, not re-run.
import type { Pool } from '../storage/database.ts';
import { loadSteps } from '../storage/steps.ts';
import { claimForRecovery, deadLetter, findPendingWorkflows } from '../storage/workflows.ts';
import type { Workflow } from '../threads/workflow.ts';
import type { RecordedStep } from '../threads/protocol.ts';

export interface RecoveryDeps {
  pool: Pool;
  schema: string;
  executorId: string;
  appVersion: string;
  workflows: ReadonlyMap<string, Workflow>;
  dispatch(exec: { id: string; name: string; input: Uint8Array; attempt: number; steps: RecordedStep[] }): void;
  log(message: string): void;
}

/** Takes over the PENDING workflows of `executorIds`; returns the IDs it dispatched. */
export async function recoverPending(deps: RecoveryDeps, executorIds: string[]): Promise<string[]> {
  const { pool, schema } = deps;
  const pending = await findPendingWorkflows(pool, schema, executorIds, deps.appVersion);
  const dispatched: string[] = [];
  for (const row of pending) {
    const wf = deps.workflows.get(row.name);
    if (!wf) {
      deps.log(`skein: cannot recover ${row.id}: workflow '${row.name}' is not registered`);
      continue;
    }
    const attempt = await claimForRecovery(pool, schema, row.id, executorIds, deps.executorId);
    if (attempt === null) continue; // finished or taken meanwhile
    if (attempt > wf.options.maxRecoveryAttempts) {
      await deadLetter(pool, schema, row.id);
      continue;
    }
    const steps = (await loadSteps(pool, schema, row.id)).map((s) => ({
      stepId: s.step_id,
      name: s.name,
      output: s.output,
      error: s.error,
    }));
    deps.dispatch({ id: row.id, name: row.name, input: row.input!, attempt, steps });
    dispatched.push(row.id);
  }
  return dispatched;
}
