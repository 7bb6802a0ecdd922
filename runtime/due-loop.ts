// A timer driven by the database: it asks when the next item is due (by the database's clock,
// which every process shares), arms the coordinator's timer heap for then, and when it fires
// handles what is due and asks again. Woken early by a NOTIFY (another process wrote something
// due sooner), after a LISTEN reconnect and on the safety poll. One query in flight at a time;
// wake-ups meanwhile fold into one more round.
import { errorField, type Logger } from '../common/logger.ts';
import type { TimerHandle, Timers } from './timers.ts';

export interface DueWork {
  /** what the loop is for, in its log lines */
  readonly what: string;
  /** ms until the next item is due (0: now), or null when nothing waits */
  next(): Promise<number | null>;
  /** handles what is due now; true if it stopped at a batch limit with more due */
  fire(): Promise<boolean>;
}

/**
 * After a round that found an item due but handled none of it (another process holds its row
 * lock), the next look waits this long rather than spin.
 */
const CONTENDED_MS = 20;
/** After a failed look (the database away), the next one. */
const RETRY_MS = 1000;

export class DueLoop {
  readonly #work: DueWork;
  readonly #timers: Timers;
  readonly #logger: Logger;
  #timer: TimerHandle | undefined;
  #running = false;
  #again = false;
  #closed = false;
  #inFlight: Promise<void> | undefined;

  constructor(work: DueWork, timers: Timers, logger: Logger) {
    this.#work = work;
    this.#timers = timers;
    this.#logger = logger;
  }

  /** Whether a timer of this loop is armed (waiterStats counts workflows' timers, not these). */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Looks again now; a round in flight runs once more afterwards. */
  wake(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    this.#inFlight = this.#rounds().finally(() => {
      this.#running = false;
      this.#inFlight = undefined;
    });
  }

  /** Stops; resolves once a round in flight is over. */
  close(): Promise<void> {
    this.#closed = true;
    this.#timer?.cancel();
    return this.#inFlight ?? Promise.resolve();
  }

  async #rounds(): Promise<void> {
    try {
      let wait: number | null;
      do {
        this.#again = false;
        wait = await this.#round();
      } while ((this.#again || wait === 0) && !this.#closed);
      this.#arm(wait);
    } catch (err) {
      // the database is away: look again in a second (or sooner, at a NOTIFY), not only at the
      // safety poll
      this.#logger.warn(`skein: checking ${this.#work.what} failed; checking again in a second`, { error: errorField(err) });
      this.#arm(RETRY_MS);
    }
  }

  /** One look: fires what is due; returns the ms to wait before the next look (0: at once). */
  async #round(): Promise<number | null> {
    const next = await this.#work.next();
    if (next === null || next > 0 || this.#closed) return next;
    if (await this.#work.fire()) return 0;
    const after = await this.#work.next();
    return after === 0 ? CONTENDED_MS : after;
  }

  #arm(ms: number | null): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    if (ms === null || this.#closed) return;
    this.#timer = this.#timers.at(this.#timers.now() + ms, () => {
      this.#timer = undefined;
      this.wake();
    });
  }
}
