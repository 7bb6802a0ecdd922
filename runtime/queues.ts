// Queues, served from the main thread. Each queue this process declares has a runner that
// claims startable workflows (storage/queues.ts) and dispatches them. A runner polls when it is
// woken: by the NOTIFY of an enqueue or of a queued workflow finishing anywhere (a global slot
// may have freed), by its own workflows completing, when a rate-limit window frees a slot, and
// on a slow safety timer. Wake-ups during a poll fold into one more poll, so a burst of
// completions costs one claim, and there is no fixed poll interval on the dispatch path.
import { errorField, type Logger } from '../common/logger.ts';
import type { Pool } from '../storage/database.ts';
import { claimQueued, releaseClaimed, type ClaimedRow } from '../storage/queues.ts';
import type { QueueConfig } from './config.ts';

export const DEFAULT_MAX_PER_POLL = 100;

export interface RunnerDeps {
  pool: Pool;
  schema: string;
  executorId: string;
  appVersion: string;
  /** the workflows this process can run: it claims no other */
  names: string[];
  /** free workflow slots on this process's threads right now */
  freeSlots(): number;
  /** dispatches a claimed workflow; resolves when it ends here */
  dispatch(row: ClaimedRow, queue: string): Promise<unknown>;
  logger: Logger;
  /** how far a test clock runs ahead (common/clock.ts): deadlines set at dequeue count from there */
  shiftMs(): number;
}

export class QueueRunner {
  readonly config: QueueConfig;
  readonly #deps: RunnerDeps;
  #active = 0;
  #polling = false;
  #again = false;
  #closed = false;
  #rateTimer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  /**
   * The last poll saw the queue empty: it claimed fewer than it could, with no global limit
   * that could have cut it short. Until something wakes it (an enqueue's NOTIFY, a completion),
   * a slot freeing in this process is no reason to poll: every Skein serves the internal queue,
   * which is empty nearly always, and must not cost a query per finished workflow.
   */
  #drained = false;

  constructor(config: QueueConfig, deps: RunnerDeps) {
    this.config = config;
    this.#deps = deps;
  }

  /** Workflows of this queue running in this process. */
  get active(): number {
    return this.#active;
  }

  /** Slots freed in this process: polls unless the queue was seen empty since the last wake. */
  slotsFreed(): void {
    if (!this.#drained) this.wake();
  }

  /** Asks for a poll; one already running will poll once more afterwards. */
  wake(): void {
    this.#drained = false;
    if (this.#closed) return;
    if (this.#polling) {
      this.#again = true;
      return;
    }
    this.#polling = true;
    void this.#loop();
  }

  /** Stops polling; resolves once a poll in flight is over (its claims run or went back). */
  close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#rateTimer);
    return this.#inFlight ?? Promise.resolve();
  }

  #loop(): Promise<void> {
    this.#inFlight = this.#polls().finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  async #polls(): Promise<void> {
    try {
      do {
        this.#again = false;
        await this.#poll();
      } while (this.#again && !this.#closed);
    } catch (err) {
      // the database is away: the safety timer or the next NOTIFY polls again
      this.#deps.logger.warn('skein: a queue poll failed; the next wake-up polls again', { queue: this.config.name, error: errorField(err) });
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
      {
        queue: this.config.name,
        names: this.#deps.names,
        max,
        concurrency: this.config.concurrency,
        rateLimit: this.config.rateLimit,
        partitionConcurrency: this.config.partitionConcurrency,
        shiftMs: this.#deps.shiftMs(),
      },
      executorId,
      appVersion,
    );
    // a global limit may have cut the claim short with more waiting: not drained
    const limited = this.config.concurrency !== undefined || this.config.rateLimit !== undefined || this.config.partitionConcurrency !== undefined;
    if (claim.rows.length < max && !limited && !this.#again) this.#drained = true;
    if (this.#closed && claim.rows.length > 0) {
      // closed while it claimed (shutdown): the dispatcher takes nothing new, so they go back to
      // the queue rather than stay PENDING under an executor that will not run them
      await releaseClaimed(pool, schema, this.config.name, claim.rows.map((r) => r.id), executorId);
      return;
    }
    for (const row of claim.rows) {
      this.#active++;
      void this.#deps
        .dispatch(row, this.config.name)
        .catch((err) => this.#deps.logger.error('skein: a workflow claimed from a queue failed to run', { queue: this.config.name, workflowId: row.id, error: errorField(err) }))
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
