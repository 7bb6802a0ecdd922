// Waiting on the main thread: workflows' recv/getEvent, getEvent from outside, and result() of
// workflows that finish elsewhere. One LISTEN connection (pg-listen) per process; a waiter is
// registered under the payload that concerns it, so one NOTIFY re-checks only its own waiters
// and hundreds of idle waiters cost no queries. Notifications sent while the connection was
// down are lost, so every (re)connect re-checks all waiters, and a slow poll does too as a
// safety net.
import pgListen, { type Subscriber } from 'pg-listen';
import { isTransient } from '../storage/database.ts';

interface Waiter {
  /** runs the check; resolves the wait if it found a value */
  poke(): void;
}

export interface WaitOptions {
  /** epoch ms; the wait resolves `undefined` then */
  deadline?: number;
  /** aborting rejects the wait with the signal's reason */
  signal?: AbortSignal;
}

// pg-listen is CommonJS exporting `exports.default`: imported from ESM, Node hands us the
// exports object and the function sits under `default`.
const createSubscriber: typeof pgListen.default =
  typeof pgListen === 'function' ? pgListen : pgListen.default;

export interface WaiterStats {
  /** waits registered now */
  waiting: number;
  /** checks (database reads) run since launch */
  checks: number;
}

export class Waiters {
  readonly #byKey = new Map<string, Set<Waiter>>();
  #checks = 0;
  readonly #subscriber: Subscriber;
  readonly #channel: string;
  readonly #poll: NodeJS.Timeout;
  readonly #log: (message: string) => void;

  private constructor(subscriber: Subscriber, channel: string, pollMs: number, log: (m: string) => void) {
    this.#subscriber = subscriber;
    this.#channel = channel;
    this.#log = log;
    this.#poll = setInterval(() => this.#pokeAll(), pollMs).unref();
  }

  static async connect(
    databaseUrl: string,
    channel: string,
    opts: { pollMs?: number; log: (message: string) => void },
  ): Promise<Waiters> {
    const subscriber = createSubscriber(
      { connectionString: databaseUrl, application_name: 'skein-listen' },
      {
        // pg-listen gives up reconnecting after retryTimeout (default 3 s) and then never
        // listens again; 0 means keep trying.
        retryTimeout: 0,
        retryInterval: (attempt: number) => Math.min(100 * 2 ** attempt, 2000),
        parse: (payload: string) => payload, // payloads are plain keys, not JSON
        paranoidChecking: 10_000,
      },
    );
    const waiters = new Waiters(subscriber, channel, opts.pollMs ?? 10_000, opts.log);
    subscriber.notifications.on(channel, (key: string) => waiters.#poke(key));
    subscriber.events.on('connected', () => waiters.#pokeAll());
    subscriber.events.on('error', (err: Error) => opts.log(`skein: LISTEN connection: ${err.message}`));
    await subscriber.connect();
    await subscriber.listenTo(channel);
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
      let timer: NodeJS.Timeout | undefined;
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        remove();
        fn();
      };
      const onAbort = () => settle(() => reject(opts.signal!.reason));
      const waiter: Waiter = {
        poke: async () => {
          if (settled) return;
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
              if (expired) return settle(() => resolve(undefined));
            } while (again && !settled);
          } catch (err) {
            // The database being briefly away only delays the wait; reconnects re-check.
            if (!isTransient(err)) settle(() => reject(err));
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
        const expire = () => {
          expired = true;
          if (!running) settle(() => resolve(undefined));
        };
        timer = setTimeout(expire, Math.max(0, opts.deadline - Date.now()));
      }
      waiter.poke();
    });
  }

  /**
   * Calls `fn` whenever `key` is notified, after reconnects and on the safety poll, until the
   * returned function unsubscribes. For long-lived listeners (queue runners).
   */
  subscribe(key: string, fn: () => void): () => void {
    return this.#add(key, { poke: fn });
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
    return { waiting, checks: this.#checks };
  }

  #poke(key: string): void {
    for (const waiter of this.#byKey.get(key) ?? []) waiter.poke();
  }

  #pokeAll(): void {
    for (const set of this.#byKey.values()) for (const waiter of set) waiter.poke();
  }

  async close(): Promise<void> {
    clearInterval(this.#poll);
    await this.#subscriber.close().catch((err: Error) => this.#log(`skein: closing LISTEN: ${err}`));
  }
}
