// Reads of recorded steps. Steps are written by the group-commit writer (write-ops.ts).
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
