// Skein.debounce: calls with one workflow and key within `delayMs` of each other start one
// workflow, with the last call's input, `delayMs` after the last call and never later than
// `maxWaitMs` after the first. The burst lives in Postgres (storage/debounce.ts), so calls from
// any number of processes meet in it; the workflow then starts like any delayed start.
import { randomUUID } from 'node:crypto';
import { ConfigError, SkeinError } from '../common/errors.ts';
import { checkOptions, DEBOUNCE_OPTIONS } from '../common/options.ts';
import type { Pool } from '../storage/database.ts';
import { debounceCall } from '../storage/debounce.ts';
import type { QueueConfig } from './config.ts';
import { INTERNAL_QUEUE } from './config.ts';

export interface DebounceOptions {
  /** calls with the same workflow and key form one burst */
  key: string;
  /** the workflow starts this long after the burst's last call */
  delayMs: number;
  /** ...but never later than this long after its first call */
  maxWaitMs?: number | undefined;
  /** the queue it starts in; default: any process that has the workflow runs it */
  queue?: string | undefined;
}

export interface DebounceDeps {
  pool: Pool;
  schema: string;
  executorId: string;
  appVersion: string;
  /** the queues this process serves, by name */
  queues: ReadonlyMap<string, QueueConfig>;
  /** how far a test clock runs ahead (common/clock.ts) */
  shiftMs: number;
}

/** Two calls racing to open a burst settle in one retry; this many means something is wrong. */
const MAX_TRIES = 20;

export function checkDebounceOptions(opts: unknown, queues: ReadonlyMap<string, QueueConfig>): DebounceOptions {
  const o = checkOptions<DebounceOptions>('debounce options', opts, DEBOUNCE_OPTIONS);
  if (o.queue !== undefined) {
    const q = queues.get(o.queue);
    if (!q || o.queue === INTERNAL_QUEUE) {
      throw new ConfigError(`debounce options.queue: '${o.queue}' is not declared in config.queues of this process`);
    }
    if (q.partitionConcurrency !== undefined) {
      throw new ConfigError(`debounce options.queue: queue '${o.queue}' is partitioned, and a debounced workflow has no partitionKey`);
    }
  }
  return o;
}

/** Joins or opens the burst of (name, key); returns its workflow ID. */
/** The burst's workflow ID; `opened`: this call opened the burst (a new workflow row). */
export async function debounce(
  deps: DebounceDeps, name: string, input: Uint8Array, o: DebounceOptions,
): Promise<{ id: string; opened: boolean }> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const newId = randomUUID();
    const id = await debounceCall(deps.pool, deps.schema, {
      name,
      key: o.key,
      input,
      delayMs: o.delayMs,
      maxWaitMs: o.maxWaitMs ?? null,
      shiftMs: deps.shiftMs,
      queue: o.queue ?? INTERNAL_QUEUE,
      executorId: deps.executorId,
      appVersion: deps.appVersion,
      newId,
    });
    if (id !== null) return { id, opened: id === newId };
  }
  throw new SkeinError(`debounce of workflow '${name}' key '${o.key}' lost ${MAX_TRIES} races in a row`);
}
