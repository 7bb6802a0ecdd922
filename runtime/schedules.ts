// Dynamic schedules, for Skein and Client alike: stored in Postgres, fired by whichever live
// process has the workflow (runtime/time.ts). A manual trigger and a backfill insert their runs
// here, ENQUEUED (in the schedule's queue, else the internal one every Skein serves), with the
// same deterministic IDs as the timer's ticks, so a tick that already ran is not run again.
import { encodeValue } from '../common/codec.ts';
import { randomUUID } from 'node:crypto';
import { parseCron, scheduleTickId, type Cron } from '../common/cron.ts';
import { ConfigError, ConflictError, SkeinError } from '../common/errors.ts';
import { checkOptions, SCHEDULE_OPTIONS } from '../common/options.ts';
import { checkText, MAX_ID_LENGTH } from '../common/validate.ts';
import { isWorkflow, type Workflow } from '../common/workflow.ts';
import type { Pool } from '../storage/database.ts';
import * as store from '../storage/schedules.ts';
import type { NewWorkflow } from '../storage/write-ops.ts';
import type { GroupCommitWriter } from '../storage/writer.ts';
import { INTERNAL_QUEUE } from './config.ts';
import { newWorkflowOps, writeNewWorkflow } from './new-workflow.ts';

export interface ScheduleOptions {
  id: string;
  /** the workflow, or its name (a Client may not have the code) */
  workflow: Workflow<any, any> | string;
  /** 5 fields, or 6 with seconds first */
  cron: string;
  /** each run's input; default the run's scheduled Date */
  input?: unknown | undefined;
  /** IANA time zone of `cron`; default UTC */
  timezone?: string | undefined;
  /** runs are enqueued here; default: they run on the process that fires the tick */
  queue?: string | undefined;
}

export interface ScheduleInfo {
  id: string;
  workflow: string;
  cron: string;
  timezone: string;
  queue?: string;
  paused: boolean;
  /** the next tick (while paused: the one it would have fired) */
  nextAt: Date;
}

export interface ScheduleDeps {
  pool: Pool;
  schema: string;
  writer: GroupCommitWriter;
  /** how far a test clock runs ahead (common/clock.ts): "now" is the database's, shifted */
  shiftMs?: number;
  /** told of each run row written (triggers, backfills) */
  created?(row: NewWorkflow): void;
}

/** Backfills refuse ranges of more ticks than this: a per-second schedule over a year is a mistake. */
export const MAX_BACKFILL_TICKS = 10_000;

/**
 * A schedule's ID leaves room in its runs' IDs (MAX_ID_LENGTH) for what they add to it: the
 * tick's time, and a manual trigger's unique suffix.
 */
export const MAX_SCHEDULE_ID_LENGTH = MAX_ID_LENGTH - 100;

/** A manual trigger's run: a tick's ID made unique, so two triggers in one millisecond are two runs. */
function triggerId(scheduleId: string, at: Date): string {
  return `${scheduleTickId(scheduleId, at)}-trigger-${randomUUID()}`;
}

const crons = new Map<string, Cron>();

/** A stored schedule's parsed cron, kept: the timer asks for it at every tick. */
export function cronOf(row: Pick<store.ScheduleRow, 'id' | 'cron' | 'timezone'>): Cron {
  const key = `${row.timezone}\u0000${row.cron}`;
  let cron = crons.get(key);
  if (!cron) {
    cron = parseCron(`schedule '${row.id}'`, row.cron, row.timezone);
    if (crons.size > 1000) crons.clear();
    crons.set(key, cron);
  }
  return cron;
}

export async function createSchedule(deps: ScheduleDeps, opts: ScheduleOptions, checkQueue: (queue: string) => void): Promise<void> {
  const o = checkOptions<ScheduleOptions>('createSchedule options', opts, SCHEDULE_OPTIONS);
  checkText('createSchedule options.id', o.id, MAX_SCHEDULE_ID_LENGTH);
  if (o.queue !== undefined) checkQueue(o.queue);
  const workflow = isWorkflow(o.workflow) ? o.workflow.name : o.workflow;
  const cron = parseCron('createSchedule options.cron', o.cron, o.timezone);
  const input = 'input' in o && o.input !== undefined ? Buffer.from(encodeValue(o.input, `input of schedule '${o.id}'`)) : null;
  const added = await store.insertSchedule(deps.pool, deps.schema, {
    id: o.id,
    workflow,
    cron: cron.expression,
    timezone: cron.timezone,
    input,
    queue: o.queue ?? null,
    next_at: cron.next(await store.databaseNow(deps.pool, deps.shiftMs)),
  });
  if (!added) throw new ConflictError(`createSchedule: a schedule with ID '${o.id}' already exists`);
}

export async function listSchedules(deps: ScheduleDeps): Promise<ScheduleInfo[]> {
  const rows = await store.listSchedules(deps.pool, deps.schema);
  return rows.map((r) => {
    const info: ScheduleInfo = { id: r.id, workflow: r.workflow, cron: r.cron, timezone: r.timezone, paused: r.paused, nextAt: r.next_at };
    if (r.queue !== null) info.queue = r.queue;
    return info;
  });
}

export async function pauseSchedule(deps: ScheduleDeps, id: string): Promise<void> {
  checkText('pauseSchedule id', id, MAX_ID_LENGTH);
  if (!(await store.setPaused(deps.pool, deps.schema, id, true))) throw noSchedule(id);
}

/** Resumes from the next tick after now: ticks missed while paused are not run (a backfill runs them). */
export async function resumeSchedule(deps: ScheduleDeps, id: string): Promise<void> {
  checkText('resumeSchedule id', id, MAX_ID_LENGTH);
  const row = await existing(deps, id);
  const next = cronOf(row).next(await store.databaseNow(deps.pool, deps.shiftMs));
  if (!(await store.setPaused(deps.pool, deps.schema, id, false, next))) throw noSchedule(id);
}

export async function deleteSchedule(deps: ScheduleDeps, id: string): Promise<void> {
  checkText('deleteSchedule id', id, MAX_ID_LENGTH);
  if (!(await store.deleteSchedule(deps.pool, deps.schema, id))) throw noSchedule(id);
}

/** One run now, paused or not; returns its workflow ID. */
export async function triggerSchedule(deps: ScheduleDeps, id: string, executorId: string): Promise<string> {
  checkText('triggerSchedule id', id, MAX_ID_LENGTH);
  const row = await existing(deps, id);
  const now = await store.databaseNow(deps.pool, deps.shiftMs);
  const [runId] = await enqueueRuns(deps, row, [{ tick: now, id: triggerId(row.id, now) }], executorId);
  return runId!;
}

/** Every tick from `from` to `to` (both included) once; returns their workflow IDs. */
export async function backfillSchedule(deps: ScheduleDeps, id: string, from: Date, to: Date, executorId: string): Promise<string[]> {
  checkText('backfillSchedule id', id, MAX_ID_LENGTH);
  for (const [at, d] of [['from', from], ['to', to]] as const) {
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new ConfigError(`backfillSchedule ${at} must be a valid Date, got ${String(d)}`);
  }
  const row = await existing(deps, id);
  // a future tick run now would be taken from its own time: the timer would find its ID used
  const now = await store.databaseNow(deps.pool, deps.shiftMs);
  if (to > now) {
    throw new ConfigError(`backfillSchedule to: ${to.toISOString()} is in the future (the database's time is ${now.toISOString()}); backfill runs ticks that are past`);
  }
  const ticks = await ticksBetween(cronOf(row), from, to);
  const ids: string[] = [];
  // in chunks, yielding between them: 10,000 ticks are never one long turn of the main thread
  for (let i = 0; i < ticks.length; i += BACKFILL_CHUNK) {
    const chunk = ticks.slice(i, i + BACKFILL_CHUNK).map((tick) => ({ tick, id: scheduleTickId(row.id, tick) }));
    ids.push(...(await enqueueRuns(deps, row, chunk, executorId)));
  }
  return ids;
}

/** Ticks inserted per flush by a backfill. */
const BACKFILL_CHUNK = 500;

/** Every tick in [from, to], yielding every 200 (a cron step costs up to ~0.1 ms); refused past MAX_BACKFILL_TICKS. */
async function ticksBetween(cron: Cron, from: Date, to: Date): Promise<Date[]> {
  const out: Date[] = [];
  // ticks are whole seconds: the first after from - 1 ms is the first at or after from
  for (let t = cron.next(new Date(from.getTime() - 1)); t <= to; t = cron.next(t)) {
    if (out.length === MAX_BACKFILL_TICKS) {
      throw new ConfigError(
        `backfillSchedule: schedule ${JSON.stringify(cron.expression)} (${cron.timezone}) has more than ${MAX_BACKFILL_TICKS} ticks ` +
          `from ${from.toISOString()} to ${to.toISOString()}; backfill a shorter range`,
      );
    }
    out.push(t);
    if (out.length % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  return out;
}

async function existing(deps: ScheduleDeps, id: string): Promise<store.ScheduleRow> {
  const row = await store.getSchedule(deps.pool, deps.schema, id);
  if (!row) throw noSchedule(id);
  return row;
}

function noSchedule(id: string): SkeinError {
  return new SkeinError(`no schedule with ID '${id}'`);
}

async function enqueueRuns(deps: ScheduleDeps, row: store.ScheduleRow, runs: { tick: Date; id: string }[], executorId: string): Promise<string[]> {
  const rows = runs.map(({ tick, id }): NewWorkflow => ({
    id,
    name: row.workflow,
    status: 'ENQUEUED',
    input: row.input ?? encodeValue(tick, `tick of schedule '${row.id}'`),
    executorId,
    appVersion: null,
    queue: row.queue ?? INTERNAL_QUEUE,
    priority: 0,
    dedupId: null,
    parentId: null,
    userName: null,
    timeoutMs: null,
    deadline: null,
    scheduleId: row.id,
  }));
  // one flush carries them all; an ID that exists (the tick ran) is left as it is, unless it is
  // another workflow's (the schedule was re-created for another workflow since)
  const outcomes = await Promise.all(rows.map((r) => writeNewWorkflow(deps, r, newWorkflowOps(deps.schema, r))));
  const conflict = outcomes.find((o) => o.conflict)?.conflict;
  if (conflict) throw conflict;
  return rows.map((r) => r.id);
}

