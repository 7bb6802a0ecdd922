// The parked set: workflows waiting off their threads, each reduced to its wake condition (a
// NOTIFY key with an effect-free check, and/or a time on the shared timer heap). A parked
// workflow costs one small record here and one heap entry; nothing on any thread.
//
// Checks are batched: notifications that arrive together, and the safety sweep over every
// parked workflow (after a LISTEN reconnect and on the slow poll), become one statement per
// chunk of CHUNK conditions, spread over event-loop turns. A condition is checked once right
// after it is registered, so a wake that raced with parking (the message arrived while the
// thread was being left) is found then.
import { errorField, type Logger } from '../common/logger.ts';
import type { Pool } from '../storage/database.ts';
import { readyConditions, type Condition } from '../storage/parking.ts';
import type { WakeCondition } from './requests.ts';
import type { TimerHandle, Timers } from './timers.ts';
import type { WakeListener, Waiters } from './waiters.ts';

/** Conditions checked per statement (and per event-loop turn). */
const CHUNK = 500;

interface Parked {
  key?: string;
  cond?: Condition;
  timer?: TimerHandle;
}

export interface ParkedDeps {
  pool: Pool;
  schema: string;
  waiters: Waiters;
  timers: Timers;
  /** the condition of `id` holds (or its time came): dispatch it again */
  wake(id: string): void;
  logger: Logger;
}

export class ParkedSet implements WakeListener {
  readonly #deps: ParkedDeps;
  readonly #byId = new Map<string, Parked>();
  readonly #byKey = new Map<string, Set<string>>();
  /** ids whose condition is to be checked in the next batch */
  readonly #toCheck = new Set<string>();
  /** the safety sweep in progress: every parked id, visited lazily a chunk at a time */
  #sweep: Iterator<string> | null = null;
  #scheduled = false;
  #checking = false;
  #resyncAgain = false;
  /** statements run to check conditions */
  checks = 0;
  readonly #unlisten: () => void;

  constructor(deps: ParkedDeps) {
    this.#deps = deps;
    this.#unlisten = deps.waiters.listen(this);
  }

  get size(): number {
    return this.#byId.size;
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  /** Parks `id` until `w` holds. */
  add(id: string, w: WakeCondition): void {
    this.remove(id);
    const p: Parked = {};
    if (w.key !== undefined && w.kind !== 'time' && w.target) {
      p.key = w.key;
      p.cond = { kind: w.kind, a: w.target[0], b: w.target[1] ?? null };
      let ids = this.#byKey.get(w.key);
      if (!ids) this.#byKey.set(w.key, (ids = new Set()));
      ids.add(id);
      this.#toCheck.add(id);
      this.#schedule();
    }
    if (w.until !== undefined) p.timer = this.#deps.timers.at(w.until, () => this.#wake(id));
    this.#byId.set(id, p);
  }

  /** Forgets `id` (it woke, or is being dropped). */
  remove(id: string): boolean {
    const p = this.#byId.get(id);
    if (!p) return false;
    this.#byId.delete(id);
    p.timer?.cancel();
    if (p.key !== undefined) {
      const ids = this.#byKey.get(p.key);
      ids?.delete(id);
      if (ids?.size === 0) this.#byKey.delete(p.key);
    }
    this.#toCheck.delete(id);
    return true;
  }

  /** Every parked id (for shutdown). */
  ids(): string[] {
    return [...this.#byId.keys()];
  }

  close(): void {
    this.#unlisten();
    for (const p of this.#byId.values()) p.timer?.cancel();
    this.#byId.clear();
    this.#byKey.clear();
    this.#toCheck.clear();
    this.#sweep = null;
  }

  notified(key: string): void {
    const ids = this.#byKey.get(key);
    if (!ids) return;
    for (const id of ids) this.#toCheck.add(id);
    this.#schedule();
  }

  resync(): void {
    if (this.#byId.size === 0) return;
    // a sweep under way finishes first (restarting it would starve its tail), then one more
    if (this.#sweep) {
      this.#resyncAgain = true;
      return;
    }
    this.#sweep = this.#byId.keys();
    this.#schedule();
  }

  #wake(id: string): void {
    if (this.remove(id)) this.#deps.wake(id);
  }

  #schedule(): void {
    if (this.#scheduled || this.#checking) return;
    this.#scheduled = true;
    // a turn later, so that notifications arriving together share one statement
    setImmediate(() => {
      this.#scheduled = false;
      void this.#check();
    });
  }

  /** Checks the next chunk; schedules itself again while anything is left. */
  async #check(): Promise<void> {
    const batch: string[] = [];
    const conds: Condition[] = [];
    const take = (id: string) => {
      const cond = this.#byId.get(id)?.cond;
      if (cond) batch.push(id), conds.push(cond);
    };
    for (const id of this.#toCheck) {
      this.#toCheck.delete(id);
      take(id);
      if (batch.length === CHUNK) break;
    }
    // bounded per turn, also when most parked workflows are sleepers with nothing to check
    for (let visited = 0; this.#sweep && batch.length < CHUNK && visited < 10 * CHUNK; visited++) {
      const next = this.#sweep.next();
      if (next.done) {
        this.#sweep = null;
        if (this.#resyncAgain) {
          this.#resyncAgain = false;
          this.#sweep = this.#byId.keys();
        }
      } else take(next.value);
    }
    if (batch.length === 0) {
      if (this.#sweep) this.#schedule();
      return;
    }
    this.#checking = true;
    try {
      this.checks++;
      const ready = await readyConditions(this.#deps.pool, this.#deps.schema, conds);
      batch.forEach((id, i) => ready[i] && this.#wake(id));
    } catch (err) {
      // the database is away: check these again shortly (this first check after parking is
      // what catches a wake that raced the park, so it must not wait for the safety sweep)
      this.#deps.logger.warn('skein: checking parked workflows failed; they are checked again shortly', { error: errorField(err) });
      setTimeout(() => {
        for (const id of batch) if (this.#byId.has(id)) this.#toCheck.add(id);
        this.#schedule();
      }, 1000).unref();
    } finally {
      this.#checking = false;
    }
    if (this.#toCheck.size > 0 || this.#sweep) this.#schedule();
  }
}
