// Dynamic schedules (migration 0007). A schedule's `next_at` is the next tick to fire. Every
// process that has the workflow looks for due schedules; it inserts the due ticks' workflows
// first (deterministic IDs, so a tick inserted twice runs once) and then moves `next_at` on,
// guarded by the value it read: a crash in between repeats an insert that changes nothing.
import type { Pool } from './database.ts';
import { statementName } from './identifiers.ts';
import { notifyChannel, wakeKey } from './messages.ts';

export interface ScheduleRow {
  id: string;
  workflow: string;
  cron: string;
  timezone: string;
  input: Buffer | null;
  queue: string | null;
  paused: boolean;
  next_at: Date;
  created_at: Date;
}

/** A due schedule, with the database's time of the look. */
export interface DueSchedule extends ScheduleRow {
  db_now: Date;
}

const COLUMNS = 'id, workflow, cron, timezone, input, queue, paused, next_at, created_at';

/** Inserts a schedule and tells every process; false if the ID is taken. */
export async function insertSchedule(
  pool: Pool,
  schema: string,
  s: Omit<ScheduleRow, 'paused' | 'created_at'>,
): Promise<boolean> {
  const { rows } = await pool.query(
    `WITH added AS (
       INSERT INTO ${schema}.schedules (id, workflow, cron, timezone, input, queue, next_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING RETURNING id),
     told AS (SELECT pg_notify($8, $9) FROM added)
     SELECT id, (SELECT count(*) FROM told) FROM added`,
    [s.id, s.workflow, s.cron, s.timezone, s.input, s.queue, s.next_at, notifyChannel(schema), wakeKey.schedules],
  );
  return rows.length === 1;
}

export async function getSchedule(pool: Pool, schema: string, id: string): Promise<ScheduleRow | null> {
  const { rows } = await pool.query<ScheduleRow>(`SELECT ${COLUMNS} FROM ${schema}.schedules WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listSchedules(pool: Pool, schema: string): Promise<ScheduleRow[]> {
  const { rows } = await pool.query<ScheduleRow>(`SELECT ${COLUMNS} FROM ${schema}.schedules ORDER BY id`);
  return rows;
}

/**
 * Pauses, or resumes with `nextAt` as its next tick (ticks missed while paused are not run);
 * tells every process. False if there is no such schedule.
 */
export async function setPaused(pool: Pool, schema: string, id: string, paused: boolean, nextAt?: Date): Promise<boolean> {
  const { rows } = await pool.query(
    `WITH changed AS (
       UPDATE ${schema}.schedules SET paused = $2, next_at = coalesce($3, next_at), updated_at = now()
       WHERE id = $1 RETURNING id),
     told AS (SELECT pg_notify($4, $5) FROM changed)
     SELECT id, (SELECT count(*) FROM told) FROM changed`,
    [id, paused, nextAt ?? null, notifyChannel(schema), wakeKey.schedules],
  );
  return rows.length === 1;
}

/** Deletes a schedule (its runs stay); false if there was none. */
export async function deleteSchedule(pool: Pool, schema: string, id: string): Promise<boolean> {
  const { rows } = await pool.query(
    `WITH gone AS (DELETE FROM ${schema}.schedules WHERE id = $1 RETURNING id),
     told AS (SELECT pg_notify($2, $3) FROM gone)
     SELECT id, (SELECT count(*) FROM told) FROM gone`,
    [id, notifyChannel(schema), wakeKey.schedules],
  );
  return rows.length === 1;
}

/** Ms until the next tick of a running schedule of these workflows (0: due), or null. */
export async function nextScheduleMs(pool: Pool, schema: string, workflows: string[], shiftMs = 0): Promise<number | null> {
  const { rows } = await pool.query<{ ms: number | null }>({
    name: statementName(schema, 'nextSchedule'),
    // NULL when none: greatest() would skip it and say 0, due now (see nextDelayedMs)
    text: `SELECT CASE WHEN min(next_at) IS NOT NULL
        THEN greatest(0, extract(epoch FROM min(next_at) - clock_timestamp()) * 1000 - $2) END::float8 AS ms
      FROM ${schema}.schedules WHERE NOT paused AND workflow = ANY($1::text[])`,
    values: [workflows, shiftMs],
  });
  return rows[0]?.ms ?? null;
}

/** Up to `limit` running schedules of these workflows whose next tick is due. */
export async function dueSchedules(pool: Pool, schema: string, workflows: string[], limit: number, shiftMs = 0): Promise<DueSchedule[]> {
  const { rows } = await pool.query<DueSchedule>({
    name: statementName(schema, 'dueSchedules'),
    text: `WITH now AS (SELECT clock_timestamp() + $3::bigint * interval '1 millisecond' AS at)
      SELECT ${COLUMNS}, now.at AS db_now FROM ${schema}.schedules, now
      WHERE NOT paused AND workflow = ANY($1::text[]) AND next_at <= now.at
      ORDER BY next_at LIMIT $2`,
    values: [workflows, limit, shiftMs],
  });
  return rows;
}

/**
 * The database's clock: schedules start from it, whatever the caller's clock says (shifted as
 * far as a test clock runs ahead, common/clock.ts).
 */
export async function databaseNow(pool: Pool, shiftMs = 0): Promise<Date> {
  const { rows } = await pool.query<{ now: Date }>("SELECT clock_timestamp() + $1::bigint * interval '1 millisecond' AS now", [shiftMs]);
  return rows[0]!.now;
}

/** Moves a schedule's next tick from `from` (as read) to `to`; a no-op if it moved meanwhile. */
export async function advanceSchedule(pool: Pool, schema: string, id: string, from: Date, to: Date): Promise<void> {
  await pool.query({
    name: statementName(schema, 'advanceSchedule'),
    text: `UPDATE ${schema}.schedules SET next_at = $3, updated_at = now() WHERE id = $1 AND next_at = $2`,
    values: [id, from, to],
  });
}
