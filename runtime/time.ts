// Everything time-driven on the coordinator besides waits: delayed starts coming due, static
// schedules (declared on workflows) and dynamic ones (rows in Postgres). All share the timer
// heap of the waiters; none polls faster than its next due time. Every process runs the same
// loops: the database decides which insert wins (tick IDs are deterministic, a release takes
// each row once), so one process or five fire each tick once.
import type { Clock } from '../common/clock.ts';
import { encodeValue } from '../common/codec.ts';
import { scheduleTickId, tickId, type Cron } from '../common/cron.ts';
import { errorField, type Logger } from '../common/logger.ts';
import type { Pool } from '../storage/database.ts';
import { nextDelayedMs, releaseDelayed } from '../storage/delays.ts';
import { wakeKey } from '../storage/messages.ts';
import { advanceSchedule, dueSchedules, nextScheduleMs, setPaused, type DueSchedule } from '../storage/schedules.ts';
import { isConstraint } from '../storage/pg-errors.ts';
import { ConfigError, SerializationError } from '../common/errors.ts';
import { DueLoop } from './due-loop.ts';
import { cronOf } from './schedules.ts';
import type { TimerHandle } from './timers.ts';
import type { Waiters } from './waiters.ts';

/** Delayed rows released per statement. */
const RELEASE_BATCH = 1000;
/** Due dynamic schedules handled per look. */
const SCHEDULE_BATCH = 100;
/**
 * A tick this late is missed, not run: after a pause of the process (a laptop asleep, a VM
 * frozen) a per-second schedule fires the last minute's ticks, not a day's.
 */
export const MISSED_AFTER_MS = 60_000;
/** A static tick the database refused is tried again this much later (while not missed). */
const RETRY_MS = 1000;
/** Ticks of one schedule fired per look; a schedule further behind catches up on the next turns. */
const TICKS_PER_LOOK = 100;

/** One run of a schedule to insert. */
export interface TickStart {
  id: string;
  workflow: string;
  input: Uint8Array;
  queue: string | null;
  scheduleId: string;
}

/** A workflow's `schedule` option, checked at launch. */
export interface StaticSchedule {
  workflow: string;
  cron: Cron;
  queue: string | null;
}

export interface TimeDeps {
  pool: Pool;
  schema: string;
  waiters: Waiters;
  logger: Logger;
  /** the workflows this process runs: only their schedules fire here */
  names: string[];
  statics: StaticSchedule[];
  /** what "now" is: the real clock, or a test clock running ahead of it */
  clock: Clock;
  /** inserts ticks' workflows (an existing ID is left as it is) and runs those that are ours */
  startTicks(ticks: TickStart[]): Promise<void>;
}

/** The due ticks from `next` (a tick time) up to `now`, and the tick after them. */
export function dueTicks(cron: Cron, next: number, now: number): { ticks: Date[]; next: number } {
  const ticks: Date[] = [];
  // far behind (every process was down for a week): jump to the missed window rather than
  // walk a per-second schedule's 600,000 ticks on the coordinator's thread
  let t = next < now - 2 * MISSED_AFTER_MS ? cron.next(new Date(now - MISSED_AFTER_MS - 1000)).getTime() : next;
  while (t <= now && ticks.length < TICKS_PER_LOOK) {
    if (t >= now - MISSED_AFTER_MS) ticks.push(new Date(t));
    t = cron.next(new Date(t)).getTime();
  }
  return { ticks, next: t };
}

export class TimeService {
  readonly #deps: TimeDeps;
  readonly #delays: DueLoop;
  readonly #schedules: DueLoop;
  readonly #staticTimers = new Map<string, TimerHandle>();
  readonly #unsubscribe: (() => void)[] = [];
  /** static fires in flight: close() waits for them */
  readonly #firing = new Set<Promise<void>>();
  #closed = false;

  constructor(deps: TimeDeps) {
    this.#deps = deps;
    const { pool, schema, waiters, logger, names } = deps;
    this.#delays = new DueLoop(
      {
        what: 'delayed starts',
        next: () => nextDelayedMs(pool, schema, deps.clock.shiftMs),
        fire: async () => (await releaseDelayed(pool, schema, RELEASE_BATCH, deps.clock.shiftMs)) === RELEASE_BATCH,
      },
      waiters.timers,
      logger,
    );
    this.#schedules = new DueLoop(
      {
        what: 'schedules',
        next: () => nextScheduleMs(pool, schema, names, deps.clock.shiftMs),
        fire: () => this.#fireDynamic(),
      },
      waiters.timers,
      logger,
    );
  }

  /** Starts the loops: delayed starts and schedules due while no process ran are handled now. */
  start(): void {
    const { waiters } = this.#deps;
    this.#unsubscribe.push(waiters.subscribe(wakeKey.delays, () => this.#delays.wake()));
    this.#unsubscribe.push(waiters.subscribe(wakeKey.schedules, () => this.#schedules.wake()));
    this.#delays.wake();
    this.#schedules.wake();
    // from now on: ticks missed while this process was not running are not run by it
    const now = this.#deps.clock.now();
    for (const s of this.#deps.statics) this.#armStatic(s, s.cron.next(new Date(now)).getTime());
  }

  /** Timers of the coordinator's heap armed by this service (not workflows' waits). */
  get armedTimers(): number {
    return this.#staticTimers.size + Number(this.#delays.armed) + Number(this.#schedules.armed);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const u of this.#unsubscribe) u();
    for (const t of this.#staticTimers.values()) t.cancel();
    await Promise.all([this.#delays.close(), this.#schedules.close(), ...this.#firing]);
  }

  #armStatic(s: StaticSchedule, at: number): void {
    if (this.#closed) return;
    this.#staticTimers.set(s.workflow, this.#deps.waiters.timers.at(at, () => this.#track(this.#fireStatic(s, at))));
  }

  /** Keeps a static fire in flight until it ends, so close() waits for it. */
  #track(p: Promise<void>): void {
    this.#firing.add(p);
    void p.finally(() => this.#firing.delete(p));
  }

  async #fireStatic(s: StaticSchedule, next: number): Promise<void> {
    const due = dueTicks(s.cron, next, this.#deps.clock.now());
    this.#armStatic(s, due.next);
    await this.#startStatic(s, due.ticks);
  }

  /**
   * Inserts the runs of static ticks; those the database refused (it is away) are tried again
   * a second later, for as long as they are not yet missed: a short outage loses no tick.
   */
  async #startStatic(s: StaticSchedule, at: Date[]): Promise<void> {
    const live = at.filter((tick) => tick.getTime() >= this.#deps.clock.now() - MISSED_AFTER_MS);
    if (live.length === 0 || this.#closed) return;
    const ticks = live.map((tick) => ({
      id: tickId(s.workflow, tick),
      workflow: s.workflow,
      input: encodeValue(tick, `tick of workflow '${s.workflow}'`),
      queue: s.queue,
      scheduleId: s.workflow,
    }));
    try {
      await this.#deps.startTicks(ticks);
    } catch (err) {
      this.#deps.logger.warn('skein: a scheduled run could not be started; trying again', {
        name: s.workflow,
        ticks: ticks.map((t) => t.id),
        error: errorField(err),
      });
      this.#deps.waiters.timers.at(this.#deps.clock.now() + RETRY_MS, () => this.#track(this.#startStatic(s, live)));
    }
  }

  async #fireDynamic(): Promise<boolean> {
    const { pool, schema, names } = this.#deps;
    const due = await dueSchedules(pool, schema, names, SCHEDULE_BATCH, this.#deps.clock.shiftMs);
    // each schedule on its own: one whose runs cannot be stored holds up no other
    for (const row of due) {
      if (this.#closed) break;
      await this.#fireOne(row).catch(async (err) => {
        const refused = isConstraint(err) || err instanceof SerializationError || err instanceof ConfigError;
        this.#deps.logger.error(`skein: a schedule cannot fire${refused ? '; it is paused' : ''}`, { scheduleId: row.id, error: errorField(err) });
        // a run the database refuses for what it is (a tick ID too long for its index) is
        // refused at every tick: pause it; anything else (the database away) is tried again
        if (refused) await setPaused(pool, schema, row.id, true).catch(() => {});
      });
      // a schedule far behind costs up to ~160 cron steps: one per turn of the event loop
      await new Promise((r) => setImmediate(r));
    }
    return due.length === SCHEDULE_BATCH;
  }

  async #fireOne(row: DueSchedule): Promise<void> {
    const { pool, schema } = this.#deps;
    // checked when it was created: a row edited by hand to nonsense throws a ConfigError here
    const cron = cronOf(row);
    const { ticks: at, next } = dueTicks(cron, row.next_at.getTime(), row.db_now.getTime());
    const ticks = at.map((tick) => ({
      id: scheduleTickId(row.id, tick),
      workflow: row.workflow,
      input: row.input ?? encodeValue(tick, `tick of schedule '${row.id}'`),
      queue: row.queue,
      scheduleId: row.id,
    }));
    // the runs first: a crash before the move repeats inserts that change nothing
    if (ticks.length > 0) await this.#deps.startTicks(ticks);
    await advanceSchedule(pool, schema, row.id, row.next_at, new Date(next));
  }
}
