// Retention: deleting finished workflows (with their steps, messages and events) so the system
// tables stop growing without bound. garbageCollect() is the call; a Skein with
// config.retention also sweeps on its own (RetentionSweeper).
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Pool } from '../storage/database.ts';
import { deleteFinishedBatch, readAgeBound, readCountBound, type FinishedBound } from '../storage/retention.ts';
import { errorField, type Logger } from '../common/logger.ts';
import type { Retention } from './config.ts';

/**
 * Workflows per statement. Each is one short transaction that locks only the rows it deletes
 * (a few thousand with their steps): small enough that a writer flush touching a neighbouring
 * row (a message_keys insert that collides, a resume) waits milliseconds at worst.
 */
export const RETENTION_BATCH = 500;

/**
 * Deletes the finished workflows `opts` says to: those that finished more than
 * `completedAfterMs` ago, and those beyond the newest `maxRows`. With neither key, none.
 * Batch by batch, yielding between them; `signal` stops it between batches (a shutdown), with
 * what was deleted so far counted.
 */
export async function garbageCollect(
  pool: Pool,
  schema: string,
  opts: Retention,
  signal?: AbortSignal,
  /** the longest rate-limit period of the queues known here: their recent starts are kept */
  rateWindowMs = 0,
): Promise<{ deleted: number }> {
  // both bounds are read before deleting: the count bound of maxRows must be measured over
  // the rows as they were, not over what the age bound left
  const bounds: FinishedBound[] = [];
  if (opts.completedAfterMs !== undefined) bounds.push(await readAgeBound(pool, schema, opts.completedAfterMs));
  if (opts.maxRows !== undefined) {
    const bound = await readCountBound(pool, schema, opts.maxRows);
    if (bound) bounds.push(bound);
  }
  let deleted = 0;
  for (const bound of bounds) {
    for (;;) {
      if (signal?.aborted) return { deleted };
      const n = await deleteFinishedBatch(pool, schema, bound, RETENTION_BATCH, rateWindowMs);
      deleted += n;
      if (n < RETENTION_BATCH) break;
      // let the writer's flushes and everyone else's queries take the pool between batches
      await yieldTurn();
    }
  }
  return { deleted };
}

/**
 * How often a sweep runs. By age: a tenth of completedAfterMs, so a workflow outlives its
 * retention by at most 10% (and by at most a minute), but not more often than once a second,
 * since each sweep costs at least two queries. By count: every 30 s, because finding where the
 * newest maxRows end reads maxRows index entries, and a table over its cap by 30 s of
 * completions is not a problem worth reading that often. Both: the shorter. Null: nothing to do.
 */
export function sweepIntervalMs(retention: Retention): number | null {
  const intervals: number[] = [];
  if (retention.completedAfterMs !== undefined) {
    intervals.push(Math.min(Math.max(retention.completedAfterMs / 10, 1_000), 60_000));
  }
  if (retention.maxRows !== undefined) intervals.push(30_000);
  return intervals.length ? Math.min(...intervals) : null;
}

export interface SweeperDeps {
  pool: Pool;
  schema: string;
  retention: Retention;
  logger: Logger;
  /** see garbageCollect */
  rateWindowMs?: number;
}

/**
 * Runs garbageCollect at start() and then every sweepIntervalMs, one sweep at a time: the next
 * is timed from the end of the last, so a slow sweep never overlaps the next. Timers are
 * unref'd (a sweep never keeps a process alive); a failed sweep is logged and the next one
 * tries again. stop() ends the sweep in flight at its next batch and waits for it.
 */
export class RetentionSweeper {
  readonly #deps: SweeperDeps;
  readonly #intervalMs: number | null;
  readonly #stopping = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #started = false;

  constructor(deps: SweeperDeps) {
    this.#deps = deps;
    this.#intervalMs = sweepIntervalMs(deps.retention);
  }

  start(): void {
    if (this.#started || this.#intervalMs === null) return;
    this.#started = true;
    this.#sweep();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  #sweep(): void {
    if (this.#stopping.signal.aborted) return;
    const { pool, schema, retention, logger, rateWindowMs } = this.#deps;
    this.#inFlight = garbageCollect(pool, schema, retention, this.#stopping.signal, rateWindowMs)
      .then(
        ({ deleted }) => {
          if (deleted > 0) logger.debug('skein: retention deleted finished workflows', { deleted });
        },
        (err) => logger.warn('skein: a retention sweep failed; the next one tries again', { error: errorField(err) }),
      )
      .finally(() => {
        this.#inFlight = undefined;
        if (this.#stopping.signal.aborted) return;
        this.#timer = setTimeout(() => this.#sweep(), this.#intervalMs!);
        this.#timer.unref();
      });
  }
}
