// Workflows of the schedule benchmark (bench/schedule.ts), skein's side, and what both systems'
// processes share: the tables, the load, the tick's record, the arguments and the results.
// A tick records how late it started: Date.now() at the top of the workflow function minus the
// tick's scheduled time, before anything else runs; a step then writes it to bench_ticks.
import pg from 'pg';
import { workflow } from '../runtime/index.ts';
import { burn } from './workloads.ts';

/** CPU per load step, ms: the load keeps both systems' CPUs busy with the same work. */
export const LOAD_STEP_MS = 2;
export const LOAD_STEPS = 3;

let pool: pg.Pool | undefined;
function db(url: string): pg.Pool {
  // one small pool per thread (skein) or process (DBOS), opened on first use
  pool ??= new pg.Pool({ connectionString: url, max: 2 });
  return pool;
}

/** Writes one tick's lateness; the same statement on both sides. */
export async function recordTick(url: string, tick: Date, lateMs: number): Promise<void> {
  await db(url).query('INSERT INTO bench_ticks (tick, late_ms) VALUES ($1, $2)', [tick, lateMs]);
}

/** skein: the scheduled workflow (a dynamic schedule's input is its scheduled Date). */
export const benchTick = workflow('benchTick', async (ctx, tick: Date) => {
  const lateMs = Date.now() - tick.getTime();
  await ctx.step('record', () => recordTick(process.env.BENCH_DATABASE_URL!, tick, lateMs));
});

/** skein: the load, three CPU-bound steps. */
export const benchLoad = workflow('benchLoad', async (ctx, i: number) => {
  for (let s = 0; s < LOAD_STEPS; s++) await ctx.step(`burn${s}`, () => burn(LOAD_STEP_MS));
  return i;
});

export async function createTables(client: pg.Client): Promise<void> {
  // no key on tick: a tick that ran twice shows as two rows
  await client.query('CREATE TABLE bench_ticks (tick timestamptz NOT NULL, late_ms float8 NOT NULL)');
}

export interface ScheduleArgs {
  databaseUrl: string;
  /** how long the schedule runs */
  seconds: number;
  /** load workflows kept in flight meanwhile (0: none) */
  inFlight: number;
}

export function scheduleArgs(): ScheduleArgs {
  const [databaseUrl, seconds, inFlight] = process.argv.slice(2);
  if (!databaseUrl || !(Number(seconds) > 0) || !(Number(inFlight) >= 0)) {
    console.error('usage: <system>-schedule.ts <databaseUrl> <seconds> <inFlight>');
    process.exit(2);
  }
  return { databaseUrl, seconds: Number(seconds), inFlight: Number(inFlight) };
}

export interface ScheduleResults {
  type: 'results';
  /** lateness of each tick that ran, ms, in tick order */
  lateMs: number[];
  /** ticks between the first and the last that ran, none of which ran */
  missing: number;
  /** ticks that ran more than once */
  duplicates: number;
  /** load workflows finished per second while the schedule ran */
  loadPerSecond: number;
}

/**
 * Keeps `inFlight` load workflows running until `stop` resolves; returns how many finished.
 * `start` runs one to its end.
 */
export async function keepLoad(inFlight: number, run: (i: number) => Promise<unknown>, stop: Promise<void>): Promise<number> {
  let stopped = false;
  void stop.then(() => (stopped = true));
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (!stopped) {
      await run(next++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return done;
}

/** Reads the ticks that ran; the first tick counted is the first that ran (a system may start late). */
export async function readTicks(client: pg.Client): Promise<Omit<ScheduleResults, 'type' | 'loadPerSecond'>> {
  const { rows } = await client.query<{ tick: Date; late_ms: number; n: number }>(
    'SELECT tick, min(late_ms) AS late_ms, count(*)::int AS n FROM bench_ticks GROUP BY tick ORDER BY tick',
  );
  if (rows.length === 0) return { lateMs: [], missing: 0, duplicates: 0 };
  const span = (rows[rows.length - 1]!.tick.getTime() - rows[0]!.tick.getTime()) / 1000 + 1;
  return {
    lateMs: rows.map((r) => r.late_ms),
    missing: span - rows.length,
    duplicates: rows.filter((r) => r.n > 1).length,
  };
}

export function sendResults(r: Omit<ScheduleResults, 'type'>): void {
  const m: ScheduleResults = { type: 'results', ...r };
  if (process.send) process.send(m);
  else console.log(JSON.stringify(m));
  process.disconnect?.();
}

/** Waits `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
