// Reads of recorded steps, and the one rewrite of a recorded step. Steps are written by the
// group-commit writer (write-ops.ts).
import type { Pool } from './database.ts';
import { statementName } from './identifiers.ts';

export interface StepRow {
  step_id: number;
  name: string;
  output: Buffer | null;
  error: Buffer | null;
  child_workflow_id: string | null;
  started_at: Date | null;
  completed_at: Date;
}

export async function loadSteps(pool: Pool, schema: string, workflowId: string): Promise<StepRow[]> {
  const { rows } = await pool.query<StepRow>({
    name: statementName(schema, 'loadSteps'),
    text: `SELECT step_id, name, output, error, child_workflow_id, started_at, completed_at
      FROM ${schema}.steps WHERE workflow_id = $1 ORDER BY step_id`,
    values: [workflowId],
  });
  return rows;
}

/**
 * Turns the recorded child start `stepId` of workflow `parentId` into a refusal: it records
 * `error` and no child. For a start whose insert lost to a row of another workflow, found only
 * after the start's step committed with it (here, not in the writer, because the writer would
 * refuse a step that already exists). A replay throws `error` instead of finding a child.
 */
export async function refuseChildStart(
  pool: Pool,
  schema: string,
  parentId: string,
  stepId: number,
  error: Uint8Array,
): Promise<void> {
  await pool.query(
    `UPDATE ${schema}.steps SET error = $3, child_workflow_id = NULL
     WHERE workflow_id = $1 AND step_id = $2`,
    [parentId, stepId, error],
  );
}
