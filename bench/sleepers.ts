// Workload 8 of `npm run bench`: N workflows that each sleep 30 s, then run one step. What it
// costs a system to hold many waiting workflows: time to start them, peak memory while they
// sleep, how fast the backlog drains once they wake, and the rows left behind. Each system runs
// it in a process of its own (systems/*-sleepers.ts) on a database of its own, so the memory
// and the rows are this workload's only. No warm-up pass: it is a capacity test.
import pg from 'pg';
import type { Handle, Metrics, Progress } from './workloads.ts';

export const SLEEPERS = { full: 100_000, quick: 5_000 } as const;
export const SLEEP_MS = 30_000;

export interface SleepAdapter {
  /** a workflow that sleeps `ms` durably, then runs one step */
  startSleeper(ms: number): Promise<Handle>;
}

/** Each system's workflow status and steps tables, counted after the drain. */
export const SYSTEM_TABLES: Record<string, { status: string; steps: string }> = {
  skein: { status: 'skein.workflow_status', steps: 'skein.steps' },
  dbos: { status: 'dbos.workflow_status', steps: 'dbos.operation_outputs' },
};

export async function runSleepers(sys: SleepAdapter, n: number, progress: Progress): Promise<Metrics> {
  // Both systems run their workflows in this process (skein's threads too), so one RSS covers all.
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
  const every = Math.max(1, Math.floor(n / 100)); // progress over IPC about 100 times, not n
  let done = 0;
  let lastDone = 0;

  const t0 = Date.now();
  // started concurrently, as workload 1 does
  const handles = await Promise.all(Array.from({ length: n }, () => sys.startSleeper(SLEEP_MS)));
  const started = Date.now();
  await Promise.all(
    handles.map((h) =>
      h.result().then(() => {
        lastDone = Date.now();
        if (++done % every === 0 || done === n) progress('sleep', done, n);
      }),
    ),
  );
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return {
    n,
    startSeconds: (started - t0) / 1000,
    peakRssMb: peakRss / 2 ** 20,
    // from the first wake-up (the first start + 30 s) to the last finish; it includes the spread
    // of the starts, since each workflow wakes 30 s after its own sleep began
    drainSeconds: (lastDone - (t0 + SLEEP_MS)) / 1000,
    // from the last start's wake-up to the last finish: the wake-up backlog alone
    tailSeconds: (lastDone - (started + SLEEP_MS)) / 1000,
  };
}

/** Rows and on-disk size of a system's status and steps tables, after the drain. */
export async function countSleeperRows(system: string, databaseUrl: string): Promise<Metrics> {
  const { status, steps } = SYSTEM_TABLES[system]!;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT (SELECT count(*) FROM ${status})::int AS "statusRows", (SELECT count(*) FROM ${steps})::int AS "stepRows",
              (pg_total_relation_size('${status}') + pg_total_relation_size('${steps}')) / 1048576.0 AS "tablesMb"`,
    );
    return { statusRows: rows[0].statusRows, stepRows: rows[0].stepRows, tablesMb: Number(rows[0].tablesMb) };
  } finally {
    await client.end();
  }
}
