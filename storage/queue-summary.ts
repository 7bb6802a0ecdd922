// Queue depths, for operators (`skein queue list`) and metrics: per queue, the workflows waiting
// and due, those delayed, and those running, by executor, across all processes. Queues are not
// stored anywhere (each process declares its own), so a queue is listed while it has such rows.
// One read-only statement of three branches, each served by a partial index: the due rows by
// workflow_status_dequeue (its predicate exactly, an index-only scan), the delayed ones by
// workflow_status_delayed, the running ones by workflow_status_queue_running. None reads the
// finished rows, which are most of the table.
import type { Pool, PoolClient } from './database.ts';
import { statementName } from './identifiers.ts';

export interface QueueSummary {
  queue: string;
  /** ENQUEUED and due: startable now by an executor that has the workflow */
  enqueued: number;
  /** ENQUEUED with a start time still ahead (delayMs, startAt, a debounce) */
  delayed: number;
  /** PENDING: dequeued and not finished (running or waiting), all executors */
  running: number;
  /** `running` by executor ID */
  runningByExecutor: Record<string, number>;
}

interface DepthRow {
  queue: string;
  kind: 'enqueued' | 'delayed' | 'running';
  executor_id: string | null;
  n: number;
}

/**
 * Every queue holding ENQUEUED or PENDING workflows, by name. A delayed row already due but not
 * yet released (no process's timer ran since) counts as enqueued: it is startable at the next
 * release. Its cost grows with the rows waiting and running, not the table: measured (EXPLAIN
 * ANALYZE, 1,000,000 finished rows, 100,000 due, 100,000 delayed, 500 running over 20 queues, 2
 * busy cores) 120 ms, each branch on its index; one pass over `status IN ('ENQUEUED','PENDING')`
 * with FILTERed counts took 353-385 ms, a sequential scan of the whole table.
 */
export async function queueSummaries(db: Pool | PoolClient, schema: string): Promise<QueueSummary[]> {
  const { rows } = await db.query<DepthRow>({
    name: statementName(schema, 'queueSummaries'),
    text: `SELECT queue, 'enqueued' AS kind, NULL AS executor_id, count(*)::int AS n
      FROM ${schema}.workflow_status
      WHERE status = 'ENQUEUED' AND delayed_until IS NULL
      GROUP BY queue
      UNION ALL
      SELECT queue, CASE WHEN delayed_until <= now() THEN 'enqueued' ELSE 'delayed' END, NULL, count(*)::int
      FROM ${schema}.workflow_status
      WHERE delayed_until IS NOT NULL AND status = 'ENQUEUED'
      GROUP BY 1, 2
      UNION ALL
      SELECT queue, 'running', executor_id, count(*)::int
      FROM ${schema}.workflow_status
      WHERE status = 'PENDING' AND queue IS NOT NULL
      GROUP BY queue, executor_id`,
  });
  const byQueue = new Map<string, QueueSummary>();
  for (const r of rows) {
    let q = byQueue.get(r.queue);
    if (!q) byQueue.set(r.queue, (q = { queue: r.queue, enqueued: 0, delayed: 0, running: 0, runningByExecutor: {} }));
    q[r.kind] += r.n;
    if (r.kind === 'running') q.runningByExecutor[r.executor_id!] = r.n;
  }
  return [...byQueue.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
}
