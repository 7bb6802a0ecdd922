// A test clock: give it to Skein.launch as `clock`, and a workflow that sleeps a day finishes
// as soon as the test says a day went by. It runs ahead of the real clock by an offset that
// advance() grows (common/clock.ts says what reads it). Between advances time passes as usual,
// so short waits, thresholds and polls behave as in production.
import { CLOCK_BRAND, type Clock, type ClockUser } from '../../common/clock.ts';
import { ConfigError, TimeoutError } from '../../common/errors.ts';
import { checkOptions, MAX_DELAY_MS, ms, type OptionShape } from '../../common/options.ts';

export interface TestClock extends Clock {
  /**
   * Moves the clock `ms` forward, as time would pass. First waits until no workflow of the
   * Skeins on this clock is running code (each is waiting, or done), so one just started has
   * reached its sleep. Then goes from timer to timer in time order up to the new time: at each,
   * the clock shows that timer's time, what came due fires, and the workflows it woke run until
   * they wait or end (a workflow that sleeps an hour three times wakes three times in one
   * advance of three hours). Rejects with a TimeoutError naming the workflows still running
   * code after `settleMs`.
   */
  advance(ms: number, opts?: AdvanceOptions): Promise<void>;
}

export interface AdvanceOptions {
  /** how long to wait for the workflows to settle, before and after (default 30,000) */
  settleMs?: number;
}

export interface TestClockOptions {
  /** the time it shows at first; default the real time */
  start?: Date;
}

const CLOCK_OPTIONS: OptionShape = {
  known: {
    start: (at, v) => {
      if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new ConfigError(`${at} must be a valid Date`);
    },
  },
};
const ADVANCE_OPTIONS: OptionShape = { known: { settleMs: ms } };

/** How often advance() looks whether the workflows settled, and how many calm looks in a row it wants. */
const SETTLE_POLL_MS = 10;
const CALM_LOOKS = 3;
/** Timers stepped through in one advance; past this it jumps to the end (a per-second schedule over a day). */
const MAX_STEPS = 1000;

/**
 * Skips time on `c` while waiting for `done`, if `c` is a test clock (see ShiftedClock's
 * skipWhile); on the real clock it only waits.
 */
export async function skippingTime<T>(c: Clock, done: Promise<T>): Promise<T> {
  if (c instanceof ShiftedClock) await c.skipWhile(done);
  return done;
}

export function clock(given?: TestClockOptions): TestClock {
  const opts = checkOptions<TestClockOptions>('clock options', given, CLOCK_OPTIONS);
  return new ShiftedClock(opts.start ? opts.start.getTime() - Date.now() : 0);
}

class ShiftedClock implements TestClock {
  readonly [CLOCK_BRAND] = true as const;
  readonly shared = new SharedArrayBuffer(8);
  readonly #offset = new BigInt64Array(this.shared);
  readonly #users = new Set<ClockUser>();
  /** advances in turn: two at once would each measure from a time the other is moving */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(offsetMs: number) {
    Atomics.store(this.#offset, 0, BigInt(Math.round(offsetMs)));
  }

  // an arrow, so `clock.now` can be handed around unbound (Timers does)
  readonly now = (): number => Date.now() + this.shiftMs;

  get shiftMs(): number {
    return Number(Atomics.load(this.#offset, 0));
  }

  join(user: ClockUser): () => void {
    this.#users.add(user);
    return () => this.#users.delete(user);
  }

  async advance(by: number, given?: AdvanceOptions): Promise<void> {
    // a year ahead is a fair test (a yearly schedule); Node's timer limit does not apply here
    if (!Number.isInteger(by) || by < 0 || by > MAX_DELAY_MS) {
      throw new ConfigError(`clock.advance(ms) must be a whole number of milliseconds from 0 to ${MAX_DELAY_MS} (a century), got ${String(by)}`);
    }
    const { settleMs = 30_000 } = checkOptions<AdvanceOptions>('clock.advance options', given, ADVANCE_OPTIONS);
    return this.#inTurn(() => this.#advance(by, settleMs));
  }

  /**
   * Until `done` settles, moves on to the next timer whenever every workflow on this clock
   * waits (everyCrashPoint, on a Skein with a test clock): time skips as in Temporal's test
   * server, so a workflow that sleeps a day is tested in seconds. A wait nobody answers times
   * out as soon as everything else waits too.
   */
  async skipWhile(done: Promise<unknown>): Promise<void> {
    let over = false;
    void done.then(
      () => (over = true),
      () => (over = true),
    );
    while (!over) {
      await this.#inTurn(async () => {
        if (over || !(await this.#calm())) return;
        const next = this.#nextDue();
        if (next === Infinity || over) return;
        this.#moveTo(next);
      });
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
    }
  }

  #inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(fn, fn);
    this.#turn = run.catch(() => {});
    return run;
  }

  #nextDue(): number {
    return Math.min(...[...this.#users].map((u) => u.nextDue() ?? Infinity));
  }

  /** No workflow on this clock running code, a few looks in a row (false at the first busy look). */
  async #calm(): Promise<boolean> {
    for (let look = 0; look < CALM_LOOKS; look++) {
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
      if ([...this.#users].some((u) => u.busy().length > 0)) return false;
    }
    return true;
  }

  async #advance(by: number, settleMs: number): Promise<void> {
    await this.#settle(settleMs, 'before');
    const target = this.now() + by;
    for (let step = 0; step < MAX_STEPS; step++) {
      const next = this.#nextDue();
      if (next > target) break;
      this.#moveTo(next);
      await this.#settle(settleMs, 'after');
    }
    this.#moveTo(target);
    await this.#settle(settleMs, 'after');
  }

  /** Shows time `at` (never going back), and has every Skein fire what is due by then. */
  #moveTo(at: number): void {
    const ahead = Math.round(at - this.now());
    if (ahead > 0) Atomics.add(this.#offset, 0, BigInt(ahead));
    for (const user of this.#users) user.advanced();
  }

  /** Waits until no workflow on this clock runs code, a few looks in a row. */
  async #settle(limitMs: number, when: 'before' | 'after'): Promise<void> {
    const giveUpAt = Date.now() + limitMs;
    for (let calm = 0; calm < CALM_LOOKS; ) {
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
      const busy = [...this.#users].flatMap((u) => u.busy());
      calm = busy.length === 0 ? calm + 1 : 0;
      if (busy.length > 0 && Date.now() > giveUpAt) {
        throw new TimeoutError(
          `clock.advance: ${busy.length} workflow(s) still running code ${when} the clock moved, after ${limitMs} ms ` +
            `(settleMs): ${busy.slice(0, 5).join(', ')}${busy.length > 5 ? ', ...' : ''}`,
        );
      }
    }
  }
}
