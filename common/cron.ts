// Cron schedules: the instants a cron expression names in a time zone. Pure, no I/O, no clock.
// Every process must compute the same ticks (a tick's workflow ID is its instant), so next(after)
// depends on `after` alone. cron-parser's time-zone walk keeps DST state in its iterator instead
// (begun at 03:10 on a spring-forward day it skips the 03:30 tick a walk begun the night before
// returns), so here it only matches wall-clock times, walked in UTC, and this file maps them.
//
// DST, as ISC cron and Cronos do it. A schedule whose hour field takes all 24 hours follows the
// clock: it fires whenever the local clock shows a matching time, twice through a repeated hour,
// never in a skipped one (hourly: 23 ticks on spring-forward day, 25 on fall-back day). One with
// fixed hours fires once per matching local time: a repeated one at its first occurrence, skipped
// ones once, at the instant the clock jumps (02:30 fires at 03:00 when 02:00 becomes 03:00).
// DBOS 5.3 instead skips such a tick and fires a repeated one twice.
import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { ConfigError } from './errors.ts';
import { shown } from './validate.ts';

export interface CronSpec {
  expression: string;
  timezone: string;
}

/** A checked schedule (from parseCron), usable any number of times. */
export interface Cron extends CronSpec {
  /** The first tick strictly after `after`. */
  next(after: Date): Date;
  /** Every tick t with from <= t <= to, ascending; a ConfigError rather than more than `limit`. */
  ticks(from: Date, to: Date, limit: number): Date[];
}

// DBOS's nicknames and their meaning, in any letter case as DBOS reads them. cron-parser's others
// (@secondly, @minutely, @weekdays, @weekends) are refused: what skein accepts means the same in DBOS.
const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};
const [SECOND, HOUR, DAY] = [1000, 3_600_000, 86_400_000];

/** Checks a cron expression and its IANA time zone; every error names `at` and the bad value. */
export function parseCron(at: string, expression: unknown, timezone: unknown = 'UTC'): Cron {
  const bad = (why: string) => new ConfigError(`${at} ${why}, got ${shown(expression)}`);
  if (typeof expression !== 'string') throw bad('must be a cron expression (a string)');
  const text = NICKNAMES[expression.trim().toLowerCase()] ?? expression.trim();
  if (text.startsWith('@')) throw bad(`must be a cron expression or one of ${Object.keys(NICKNAMES).join(', ')}`);
  // DBOS's alphabet: no tab, no NUL, nothing cron-parser might read some other way
  if (!/^[A-Za-z0-9 *?,/#-]*$/.test(text)) throw bad('may hold only digits, names, spaces and * ? , / - #');
  // counted here: cron-parser pads fewer fields ("5" is every minute of Fridays, "" every minute)
  const fields = text === '' ? [] : text.split(/ +/);
  if (fields.length !== 5 && fields.length !== 6) throw bad(`must have 5 fields (minute first) or 6 (second first), not ${fields.length}`);
  if (fields.length === 5) fields.unshift('0');
  // H outside month and weekday names is cron-parser's random value, drawn anew by every parse:
  // each process would fire at its own time, under its own tick IDs
  if (fields.some((field, i) => /h/i.test(i >= 4 ? field.replace(/[a-z]{3}/gi, '') : field))) throw bad('uses H, a random value per process');
  if (![fields[3], fields[5]].some((field) => field === '*' || field === '?')) {
    throw bad('restricts both day of month and day of week, which cron-parser reads as either and DBOS as both: restrict one');
  }
  let floating: CronExpression;
  try {
    floating = CronExpressionParser.parse(fields.join(' '), { tz: 'UTC', currentDate: 0 });
    floating.next(); // one that never fires hits cron-parser's loop limit here, not at a tick
  } catch (error) {
    throw new ConfigError(`${at} is not a valid cron expression (${(error as Error).message}), got ${shown(expression)}`, { cause: error });
  }
  const zoneError = `${at} timezone must be an IANA time zone such as "Europe/Paris", got ${shown(timezone)}`;
  if (typeof timezone !== 'string') throw new ConfigError(zoneError);
  try {
    const n = 'numeric' as const;
    const format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: n, month: n, day: n, hour: n, minute: n, second: n });
    return new Schedule(expression, timezone, floating, format);
  } catch (error) {
    throw new ConfigError(zoneError, { cause: error }); // Intl's RangeError: a zone this Node's ICU lacks, or ""
  }
}

function instant(what: string, value: unknown): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new ConfigError(`${what} must be a valid Date, got ${shown(value)}`);
  return value.getTime();
}

class Schedule implements Cron {
  /** matches wall-clock times written as UTC instants; every call resets its cursor */
  readonly #floating: CronExpression;
  readonly #format: Intl.DateTimeFormat;
  /** every hour (follows the clock), or fixed hours (fires once per local time)? */
  readonly #clock: boolean;
  /** the zone's offset over a UTC day, by day number: `before` until `change`, `after` from it */
  readonly #days = new Map<number, { before: number; change: number; after: number }>();

  constructor(readonly expression: string, readonly timezone: string, floating: CronExpression, format: Intl.DateTimeFormat) {
    this.#floating = floating;
    this.#format = format;
    this.#clock = floating.fields.hour.values.length === 24;
  }

  next(after: Date): Date {
    return new Date(this.#walk(instant('cron.next(after)', after)).next().value);
  }

  ticks(from: Date, to: Date, limit: number): Date[] {
    const last = instant('cron.ticks(to)', to);
    if (!Number.isSafeInteger(limit) || limit < 0) throw new ConfigError(`cron.ticks(limit) must be an integer >= 0, got ${shown(limit)}`);
    const found: Date[] = [];
    const walk = this.#walk(instant('cron.ticks(from)', from) - 1);
    for (let tick = walk.next().value; tick <= last; tick = walk.next().value) {
      if (found.length === limit) {
        const range = `from ${from.toISOString()} to ${to.toISOString()}`;
        throw new ConfigError(`schedule ${shown(this.expression)} (${this.timezone}) has more than ${limit} ticks ${range}`);
      }
      found.push(new Date(tick));
    }
    return found;
  }

  /** The ticks after `after`, ascending, endless: about one wall time of cron-parser's per tick. */
  *#walk(after: number): Generator<number, never> {
    // wall times before after's own map to earlier instants, unless a fall-back ahead repeats them
    const ahead = [0, 1].map((d) => this.#day(Math.floor(after / DAY) + d)).filter((day) => day.change > after);
    const start = Math.min(after + this.#offset(after), ...ahead.map((day) => day.change + day.after));
    this.#floating.reset(new Date(start - 1));
    const pending: number[] = [];
    let last = after;
    for (;;) {
      const { instants, earliest, resume } = this.#resolve(this.#floating.next().getTime());
      if (resume !== undefined) this.#floating.reset(new Date(resume - 1));
      for (const t of instants) if (t > last && !pending.includes(t)) pending.push(t);
      pending.sort((a, b) => a - b);
      // every tick of this wall time or a later one is >= earliest, so those up to it are final
      while (pending.length > 0 && pending[0]! <= earliest) yield (last = pending.shift()!);
    }
  }

  /**
   * The ticks of wall time `wall`; `earliest`, its first instant or the jump over it (never less
   * than an earlier wall time's); `resume`, the wall time after a jump that skips it.
   */
  #resolve(wall: number): { instants: number[]; earliest: number; resume?: number } {
    // the instant of a wall time lies within 14 hours before it and 12 after (UTC+14 to UTC-12)
    const before = this.#offset(wall - 14 * HOUR);
    const after = this.#offset(wall + 12 * HOUR);
    if (before === after) return { instants: [wall - before], earliest: wall - before };
    const exists = [wall - before, wall - after].filter((t) => this.#offset(t) === wall - t);
    if (exists.length === 0) {
      const jump = this.#transition(wall - after, wall - before);
      return { instants: this.#clock ? [] : [jump], earliest: jump, resume: jump + after };
    }
    // a fall-back repeats it: both exist, the first (under before's larger offset) first
    return { instants: this.#clock ? exists : exists.slice(0, 1), earliest: exists[0]! };
  }

  #offset(t: number): number {
    const day = this.#day(Math.floor(t / DAY));
    return t < day.change ? day.before : day.after;
  }

  #day(index: number): { before: number; change: number; after: number } {
    let day = this.#days.get(index);
    if (day === undefined) {
      const [start, end] = [index * DAY, (index + 1) * DAY];
      const [before, after] = [this.#zoneOffset(start), this.#zoneOffset(end)];
      // one change at most: no zone changes twice within 3 days (Intl's 418 zones, 1970-2050)
      day = { before, after, change: before === after ? end : this.#transition(start, end) };
      if (this.#days.size >= 64) this.#days.clear();
      this.#days.set(index, day);
    }
    return day;
  }

  /** The first second with `hi`'s offset, `lo` having another: a binary search, 17 steps a day. */
  #transition(lo: number, hi: number): number {
    const old = this.#zoneOffset(lo);
    while (hi - lo > SECOND) {
      const mid = lo + Math.floor((hi - lo) / 2 / SECOND) * SECOND;
      if (this.#zoneOffset(mid) === old) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  /** Local minus UTC at `t`, in ms, by this Node's zone rules. ~12 us: hence the cache of days. */
  #zoneOffset(t: number): number {
    const p: Record<string, number> = {};
    for (const { type, value } of this.#format.formatToParts(t)) p[type] = Number(value);
    const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!);
    return wall - (t - (((t % SECOND) + SECOND) % SECOND));
  }
}

/** The workflow ID of a static schedule's tick, as DBOS names it: sched-<workflow>-<ISO instant>. */
export function tickId(workflowName: string, tick: Date): string {
  return `sched-${workflowName}-${tick.toISOString()}`;
}

/**
 * A dynamic schedule's tick: schedule-<id>-<ISO instant>. A prefix of its own, so a schedule whose
 * ID is a scheduled workflow's name does not share (and so silently lose) that workflow's ticks.
 */
export function scheduleTickId(scheduleId: string, tick: Date): string {
  return `schedule-${scheduleId}-${tick.toISOString()}`;
}
