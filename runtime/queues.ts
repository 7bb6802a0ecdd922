// Queues, served from the main thread. Each queue this process declares has a runner that
// claims startable workflows (storage/queues.ts) and dispatches them. A runner polls when it is
// woken: by the NOTIFY of an enqueue or of a queued workflow finishing anywhere (a global slot
// may have freed), by its own workflows completing, when a rate-limit window frees a slot, and
// on a slow safety timer. Wake-ups during a poll fold into one more poll, so a burst of
// completions costs one claim, and there is no fixed poll interval on the dispatch path.
import type { Pool } from '../storage/database.ts';
import { claimQueued, type ClaimedRow } from '../storage/queues.ts';
import { ConfigError } from '../common/errors.ts';
import type { QueueConfig } from './config.ts';
import { MAX_PRIORITY } from '../common/validate.ts';

export const DEFAULT_MAX_PER_POLL = 100;

export function validateQueues(queues: unknown): QueueConfig[] {
  if (queues === undefined) return [];
  if (!Array.isArray(queues)) throw new ConfigError('config.queues must be an array of queue configurations');
  const names = new Set<string>();
  return queues.map((q: QueueConfig, i) => {
    const at = `config.queues[${i}]`;
    if (typeof q !== 'object' || q === null) throw new ConfigError(`${at} must be an object`);
    if (typeof q.name !== 'string' || q.name.length === 0 || q.name.length > 255) {
      throw new ConfigError(`${at}.name must be a non-empty string of at most 255 characters`);
    }
    if (names.has(q.name)) throw new ConfigError(`${at}.name: queue '${q.name}' is declared twice`);
    names.add(q.name);
    const positive = (key: string, v: unknown) => {
      if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1 || (v as number) > MAX_PRIORITY)) {
        throw new ConfigError(`${at}.${key} must be a positive integer, got ${String(v)}`);
      }
    };
    positive('workerConcurrency', q.workerConcurrency);
    positive('concurrency', q.concurrency);
    positive('maxPerPoll', q.maxPerPoll);
    if (q.rateLimit !== undefined) {
      if (typeof q.rateLimit !== 'object' || q.rateLimit === null) {
        throw new ConfigError(`${at}.rateLimit must be { limit, periodMs }`);
      }
      positive('rateLimit.limit', q.rateLimit.limit);
      positive('rateLimit.periodMs', q.rateLimit.periodMs);
      if (q.rateLimit.limit === undefined || q.rateLimit.periodMs === undefined) {
        throw new ConfigError(`${at}.rateLimit needs both limit and periodMs`);
      }
    }
    if (q.priority !== undefined && typeof q.priority !== 'boolean') {
      throw new ConfigError(`${at}.priority must be a boolean`);
    }
    return { ...q };
  });
}

export interface RunnerDeps {
  pool: Pool;
  schema: string;
  executorId: string;
  appVersion: string;
  /** free workflow slots on this process's threads right now */
  freeSlots(): number;
  /** dispatches a claimed workflow; resolves when it ends here */
  dispatch(row: ClaimedRow, queue: string): Promise<unknown>;
  log(message: string): void;
}

export class QueueRunner {
  readonly config: QueueConfig;
  readonly #deps: RunnerDeps;
  #active = 0;
  #polling = false;
  #again = false;
  #closed = false;
  #rateTimer: NodeJS.Timeout | undefined;

  constructor(config: QueueConfig, deps: RunnerDeps) {
    this.config = config;
    this.#deps = deps;
  }

  /** Workflows of this queue running in this process. */
  get active(): number {
    return this.#active;
  }

  /** Asks for a poll; one already running will poll once more afterwards. */
  wake(): void {
    if (this.#closed) return;
    if (this.#polling) {
      this.#again = true;
      return;
    }
    this.#polling = true;
    void this.#loop();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#rateTimer);
  }

  async #loop(): Promise<void> {
    try {
      do {
        this.#again = false;
        await this.#poll();
      } while (this.#again && !this.#closed);
    } catch (err) {
      // the database is away: the safety timer or the next NOTIFY polls again
      this.#deps.log(`skein: queue '${this.config.name}': ${err}`);
    } finally {
      this.#polling = false;
    }
  }

  async #poll(): Promise<void> {
    const { workerConcurrency, maxPerPoll = DEFAULT_MAX_PER_POLL } = this.config;
    const max = Math.min(
      maxPerPoll,
      workerConcurrency === undefined ? Infinity : workerConcurrency - this.#active,
      // claim no more than can run now, leaving the rest to other processes
      this.#deps.freeSlots(),
    );
    if (max <= 0) return;
    const { pool, schema, executorId, appVersion } = this.#deps;
    const claim = await claimQueued(
      pool,
      schema,
      { queue: this.config.name, max, concurrency: this.config.concurrency, rateLimit: this.config.rateLimit },
      executorId,
      appVersion,
    );
    for (const row of claim.rows) {
      this.#active++;
      void this.#deps
        .dispatch(row, this.config.name)
        .catch(() => {})
        .finally(() => {
          this.#active--;
          this.wake();
        });
    }
    if (claim.rows.length === max) this.#again = true; // there may be more waiting
    if (claim.rateLimitedUntil !== undefined && !this.#rateTimer) {
      const wait = Math.max(0, claim.rateLimitedUntil - Date.now()) + 5;
      this.#rateTimer = setTimeout(() => {
        this.#rateTimer = undefined;
        this.wake();
      }, wait);
    }
  }
}
