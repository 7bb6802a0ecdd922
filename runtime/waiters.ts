// Waiting on the main thread: workflows' recv/getEvent, getEvent from outside, and result() of
// workflows that finish elsewhere. One LISTEN connection (storage/listener.ts) per process; a waiter is
// registered under the payload that concerns it, so one NOTIFY re-checks only its own waiters
// and hundreds of idle waiters cost no queries. Notifications sent while the connection was
// down are lost, so every (re)connect re-checks all waiters, and a slow poll does too as a
// safety net.
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../common/options.ts';
import { errorField, type Logger } from '../common/logger.ts';
import { listen, type Listener } from '../storage/listener.ts';
import { isTransient } from '../storage/pg-errors.ts';
import { Timers } from './timers.ts';
import { SkeinError } from '../common/errors.ts';

interface Waiter {
  /** runs the check; resolves the wait if it found a value */
  poke(): void;
  /** ends the wait with an error (at close) */
  fail?(err: Error): void;
}

export interface WaitOptions {
  /** epoch ms; the wait resolves `undefined` then */
  deadline?: number;
  /**
   * Aborting rejects the wait with the signal's reason. A check in flight at that moment is
   * let finish first, and if it found a value the wait resolves with it: a recv's check takes
   * the message and records it in one statement, so that value must not be dropped.
   */
  signal?: AbortSignal;
}

export interface WaiterStats {
  /** waits registered now */
  waiting: number;
  /** checks (database reads) run since launch */
  checks: number;
}

/** Sees every notification and every reconnect; for the parked set, which batches its checks. */
export interface WakeListener {
  notified(key: string): void;
  /** notifications may have been missed (reconnect) */
  resync(): void;
}

export class Waiters {
  readonly #byKey = new Map<string, Set<Waiter>>();
  #checks = 0;
  #subscriptions = 0;
  readonly #listener: Listener;
  readonly #poll: NodeJS.Timeout;
  readonly #logger: Logger;
  readonly #listeners = new Set<WakeListener>();
  /** deadlines of waits; shared with the rest of the coordinator */
  readonly timers: Timers;

  private constructor(listener: Listener, pollMs: number, logger: Logger, timers: Timers) {
    this.#listener = listener;
    this.#logger = logger;
    this.timers = timers;
    this.#poll = setInterval(() => this.#pokeAll(), pollMs).unref();
  }

  static async connect(
    databaseUrl: string,
    channel: string,
    opts: { pollMs?: number; connectTimeoutMs?: number; logger: Logger; timers?: Timers },
  ): Promise<Waiters> {
    // notifications go to the waiters once they exist; none can wait before connect returns
    let waiters: Waiters | undefined;
    const listener = await listen(
      databaseUrl,
      channel,
      {
        notified: (key) => waiters && waiters.#poke(key),
        connected: () => waiters && waiters.#pokeAll(),
        error: (err) => opts.logger.warn('skein: the LISTEN connection failed; it reconnects', { error: errorField(err) }),
      },
      { connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS },
    );
    const timers = opts.timers ?? new Timers();
    timers.onError = (err) => opts.logger.error('skein: a timer callback threw', { error: errorField(err) });
    waiters = new Waiters(listener, opts.pollMs ?? 10_000, opts.logger, timers);
    return waiters;
  }

  /**
   * Resolves with the first value `check` finds, checking now and whenever `key` is notified
   * (and after reconnects, and on the safety poll). Resolves `undefined` at the deadline.
   * The waiter is registered before the first check, so no notification falls in between.
   */
  wait<T>(key: string, check: () => Promise<T | undefined>, opts: WaitOptions = {}): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      let running = false;
      let again = false;
      let settled = false;
      let expired = false;
      let aborted = false;
      let timer: { cancel(): void } | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        timer?.cancel();
        opts.signal?.removeEventListener('abort', onAbort);
        remove();
        fn();
      };
      const onAbort = () => {
        aborted = true;
        // a check in flight settles the wait when it returns (see WaitOptions.signal)
        if (!running) settle(() => reject(opts.signal!.reason));
      };
      const waiter: Waiter = {
        fail: (err) => settle(() => reject(err)),
        poke: async () => {
          if (settled || aborted) return;
          if (running) {
            again = true; // a notification arrived mid-check: look once more afterwards
            return;
          }
          running = true;
          try {
            do {
              again = false;
              this.#checks++;
              const value = await check();
              if (value !== undefined) return settle(() => resolve(value));
              if (aborted) return settle(() => reject(opts.signal!.reason));
              if (expired) return settle(() => resolve(undefined));
            } while (again && !settled);
          } catch (err) {
            // The database being briefly away only delays the wait; reconnects re-check.
            if (aborted) settle(() => reject(opts.signal!.reason));
            else if (!isTransient(err)) settle(() => reject(err));
          } finally {
            running = false;
          }
        },
      };
      if (opts.signal?.aborted) return reject(opts.signal.reason);
      // registered before anything that can settle the wait, and before the first check
      const remove = this.#add(key, waiter);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.deadline !== undefined) {
        // A check in flight at the deadline may be taking a value (a recv consumes and records
        // in one statement): let it finish and report what it found.
        timer = this.timers.at(opts.deadline, () => {
          expired = true;
          if (!running) settle(() => resolve(undefined));
        });
      }
      waiter.poke();
    });
  }

  /**
   * Calls `fn` whenever `key` is notified, after reconnects and on the safety poll, until the
   * returned function unsubscribes. For long-lived listeners (queue runners).
   */
  subscribe(key: string, fn: () => void): () => void {
    this.#subscriptions++;
    const remove = this.#add(key, { poke: fn });
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.#subscriptions--;
      remove();
    };
  }

  /** Adds a listener of every notification and reconnect; returns what removes it. */
  listen(listener: WakeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Registers `waiter` under `key`; returns what unregisters it. */
  #add(key: string, waiter: Waiter): () => void {
    let set = this.#byKey.get(key);
    if (!set) this.#byKey.set(key, (set = new Set()));
    set.add(waiter);
    return () => {
      set.delete(waiter);
      if (set.size === 0 && this.#byKey.get(key) === set) this.#byKey.delete(key);
    };
  }

  stats(): WaiterStats {
    let waiting = 0;
    for (const set of this.#byKey.values()) waiting += set.size;
    // subscriptions (queue runners) listen for good: they are not waits
    return { waiting: waiting - this.#subscriptions, checks: this.#checks };
  }

  #poke(key: string): void {
    for (const waiter of this.#byKey.get(key) ?? []) waiter.poke();
    for (const l of this.#listeners) l.notified(key);
  }

  #pokeAll(): void {
    for (const l of this.#listeners) l.resync();
    for (const set of this.#byKey.values()) for (const waiter of set) waiter.poke();
  }

  /** Stops listening; waits still pending reject with a SkeinError. */
  async close(): Promise<void> {
    clearInterval(this.#poll);
    const closed = new SkeinError('skein was shut down while this wait was pending');
    for (const set of [...this.#byKey.values()]) for (const waiter of [...set]) waiter.fail?.(closed);
    this.timers.clear();
    await this.#listener.close().catch((err: Error) => this.#logger.warn('skein: closing the LISTEN connection failed', { error: errorField(err) }));
  }
}
