// Per-call options of the public API: their types, and what is left after the checks of
// common/options.ts (one place for every options object) to turn them into a query or a row.
import type { ListQuery } from '../storage/workflows.ts';
import { ConfigError } from '../common/errors.ts';
import { checkOptions, LIST_FILTER, START_OPTIONS, type ListFilter } from '../common/options.ts';

export interface StartOptions {
  /** workflow ID and idempotency key; default a random UUID */
  id?: string | undefined;
  queue?: string | undefined;
  /** 1..2147483647, lower first; none = before any */
  priority?: number | undefined;
  dedupId?: string | undefined;
  appVersion?: string | undefined;
  user?: string | undefined;
  /**
   * The workflow's deadline, counted from when it starts running (for a queued one, from its
   * dequeue); past it, it is CANCELLED, and so are its children. Durable.
   */
  timeoutMs?: number | undefined;
  /** not before this many ms from now (by the database's clock); ENQUEUED until then */
  delayMs?: number | undefined;
  /** not before this time; ENQUEUED until then */
  startAt?: Date | undefined;
  /** with a queue whose `partitionConcurrency` is set: the partition this workflow counts in */
  partitionKey?: string | undefined;
}

export type { ListFilter } from '../common/options.ts';

/** Shape checks of start options; whether the queue is served here is the caller's check. */
export function validateStartOptions(opts: StartOptions | undefined, at = 'options'): StartOptions {
  const o = checkOptions<StartOptions>(at, opts, START_OPTIONS);
  for (const key of ['priority', 'dedupId', 'partitionKey'] as const) {
    if (o.queue === undefined && o[key] !== undefined) throw new ConfigError(`${at}.${key} needs ${at}.queue`);
  }
  if (o.delayMs !== undefined && o.startAt !== undefined) {
    throw new ConfigError(`${at}: give delayMs or startAt, not both`);
  }
  return o;
}

export function validateListFilter(filter: ListFilter | undefined): ListQuery {
  const f = checkOptions<ListFilter>('filter', filter, LIST_FILTER);
  return {
    ...f,
    status: f.status === undefined ? undefined : [f.status].flat(),
    name: f.name === undefined ? undefined : [f.name].flat(),
    loadInput: f.loadInput ?? true,
    loadOutput: f.loadOutput ?? true,
  };
}
