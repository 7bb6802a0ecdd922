// Workflows of the takeover benchmark (bench/takeover.ts), skein's side, and what both systems'
// processes share: each of a workflow's five steps waits STEP_MS (I/O, not CPU) and records
// that it ran, with the database's clock, in bench_runs; the bench reads recovery times there.
import pg from 'pg';
import { workflow } from '../runtime/index.ts';

export const STEPS = 5;
export const STEP_MS = 50;
/** both systems' queue: a local limit, so no process claims the whole backlog at once */
export const QUEUE = { name: 'work', workerConcurrency: 16 };

let pool: pg.Pool | undefined;

/** Records one step's run; the same statement on both sides. */
export async function recordRun(workflowId: string, step: number): Promise<void> {
  // one small pool per thread (skein) or process (DBOS), opened on first use
  pool ??= new pg.Pool({ connectionString: process.env.BENCH_DATABASE_URL, max: 2 });
  await new Promise((r) => setTimeout(r, STEP_MS));
  await pool.query('INSERT INTO bench_runs (workflow_id, step) VALUES ($1, $2)', [workflowId, step]);
}

export const benchFive = workflow('benchFive', async (ctx, i: number) => {
  for (let s = 0; s < STEPS; s++) await ctx.step(`s${s}`, () => recordRun(ctx.workflowId, s));
  return i;
});
