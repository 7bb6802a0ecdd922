// The rows bench/dashboard.ts reads: N workflows as a week of a busy service leaves them,
// filled by SQL (generate_series), then VACUUM ANALYZE as autovacuum would have by then.
// created_at grows with i (rows arrive in time order, as they do), so the heap's order follows
// created_at; names, statuses and queues are drawn from a seeded random(), so every run (of one
// N) fills the same table.
import type pg from 'pg';
import { encodeError, encodeValue } from '../common/codec.ts';

const FILL_CHUNK = 20_000;

/** Workflow names and their shares of the rows; the last is the rare one. */
export const NAMES: [string, number][] = [
  ['checkout', 0.3], ['sendEmail', 0.25], ['syncInventory', 0.15], ['resizeImage', 0.1],
  ['chargeCard', 0.1], ['importCsv', 0.05], ['nightlyReport', 0.04], ['refund', 0.01],
];
/** Statuses and their shares (ENQUEUED rows always have a queue). */
export const STATUSES: [string, number][] = [
  ['SUCCESS', 0.9], ['ERROR', 0.05], ['PENDING', 0.02], ['ENQUEUED', 0.02], ['CANCELLED', 0.01],
];
/** Queues of the rows that have one (40% of the others); the last is the rare one. */
export const QUEUES: [string, number][] = [['default', 0.5], ['emails', 0.3], ['billing', 0.18], ['reports', 0.02]];
/** Rows i with i % CHILD_EVERY in 1..CHILDREN are children of row i - i % CHILD_EVERY. */
const CHILD_EVERY = 20;
const CHILDREN = 3;
/** Rows i with i % STEPS_EVERY = 0 have STEPS_EACH steps. */
const STEPS_EVERY = 100;
const STEPS_EACH = 3;
export const BIG_ID = 'bench-big-5000-steps';
export const BIG_STEPS = 5_000;
export const SPREAD_DAYS = 7;

/** The ID of row i: a UUID, as skein makes them (md5 of i, so a parent's is known). */
export const idSql = (i: string) => `md5((${i})::text)::uuid::text`;

/** Thresholds for width_bucket: [0, s1, s1+s2, ...] of shares. */
function buckets(shares: [string, number][]): { names: string[]; bounds: number[] } {
  let sum = 0;
  const bounds = shares.map(([, s]) => ((sum += s), sum - s));
  return { names: shares.map(([n]) => n), bounds };
}

export async function fill(db: pg.Client, n: number): Promise<void> {
  const input = Buffer.from(encodeValue({ orderId: 12345, items: ['a', 'b', 'c'], note: 'x'.repeat(60) }));
  const output = Buffer.from(encodeValue({ ok: true, total: 99.5, receipt: 'r'.repeat(60) }));
  const error = Buffer.from(encodeError(new Error('card declined by the issuer')));
  const name = buckets(NAMES);
  const status = buckets(STATUSES);
  const queue = buckets(QUEUES);
  await db.query('SELECT setseed(0.42)');
  for (let from = 1; from <= n; from += FILL_CHUNK) {
    const to = Math.min(n, from + FILL_CHUNK - 1);
    await db.query(
      // MATERIALIZED: each random() drawn once per row, however often the columns are read
      `WITH r AS MATERIALIZED (
         SELECT i, now() - make_interval(days => $12) * ($13 - i)::float8 / $13 AS created,
           ($6::text[])[width_bucket(random(), $7::float8[])] AS name,
           ($8::text[])[width_bucket(random(), $9::float8[])] AS status,
           random() AS queued, ($10::text[])[width_bucket(random(), $11::float8[])] AS some_queue
         FROM generate_series($1::int, $2::int) i)
       INSERT INTO skein.workflow_status (id, name, status, executor_id, app_version, queue, attempts, parent_id,
         input, output, error, created_at, updated_at, started_at, completed_at)
       SELECT ${idSql('i')}, name, status, 'executor-' || (i % 4), 'v1',
         CASE WHEN status = 'ENQUEUED' OR queued < 0.4 THEN some_queue END,
         CASE WHEN status = 'ENQUEUED' THEN 0 ELSE 1 END,
         CASE WHEN i % $14 BETWEEN 1 AND $15 THEN ${idSql('i - i % $14')} END,
         $3, CASE WHEN status = 'SUCCESS' THEN $4::bytea END, CASE WHEN status = 'ERROR' THEN $5::bytea END,
         created, created + interval '2 s', CASE WHEN status <> 'ENQUEUED' THEN created + interval '10 ms' END,
         CASE WHEN status IN ('SUCCESS', 'ERROR', 'CANCELLED') THEN created + interval '2 s' END
       FROM r`,
      [from, to, input, output, error, name.names, name.bounds, status.names, status.bounds, queue.names, queue.bounds, SPREAD_DAYS, n, CHILD_EVERY, CHILDREN],
    );
    await db.query(
      `INSERT INTO skein.steps (workflow_id, step_id, name, output, attempts, started_at, completed_at)
       SELECT ${idSql('i')}, s, 'step' || s, $3, 1, now() - interval '1 hour', now() - interval '1 hour'
       FROM generate_series($1::int, $2::int) i, generate_series(0, $4::int - 1) s
       WHERE i % $5 = 0`,
      [from, to, output, STEPS_EACH, STEPS_EVERY],
    );
  }
  await db.query(
    `INSERT INTO skein.workflow_status (id, name, status, executor_id, app_version, input, output, attempts,
       started_at, completed_at)
     VALUES ($1, 'importCsv', 'SUCCESS', 'executor-0', 'v1', $2, $3, 1, now() - interval '1 hour', now())`,
    [BIG_ID, input, output],
  );
  await db.query(
    `INSERT INTO skein.steps (workflow_id, step_id, name, output, attempts, started_at, completed_at)
     SELECT $1, s, 'row' || s, $2, 1 + (s % 50 = 0)::int, now() - interval '1 hour' + s * interval '10 ms',
       now() - interval '1 hour' + s * interval '10 ms' + interval '5 ms'
     FROM generate_series(0, $3::int - 1) s`,
    [BIG_ID, output, BIG_STEPS],
  );
  await db.query(
    `INSERT INTO skein.schedules (id, workflow, cron, timezone, queue, paused, next_at)
     SELECT 'schedule-' || k, 'nightlyReport', '0 3 * * *', 'UTC', 'reports', k = 5, now() + interval '1 day'
     FROM generate_series(1, 5) k`,
  );
  await db.query(
    `INSERT INTO skein.executors (executor_id, app_version, host, pid, lock_key, backend_pid, lease_ms)
     SELECT 'executor-' || k, 'v1', 'host-' || k, 1000 + k, k, 0, 30000 FROM generate_series(0, 3) k`,
  );
  await db.query('VACUUM ANALYZE');
}
