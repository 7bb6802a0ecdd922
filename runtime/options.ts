// Per-call options of the public API, validated before anything is written.
import { STATUSES, type ListQuery, type Status } from '../storage/workflows.ts';
import { ConfigError } from '../common/errors.ts';
import { checkPriority, checkStorable, checkText, MAX_ID_LENGTH, MAX_NAME_LENGTH } from '../common/validate.ts';

export interface StartOptions {
  /** workflow ID and idempotency key; default a random UUID */
  id?: string;
  queue?: string;
  /** 1..2147483647, lower first; none = before any */
  priority?: number;
  dedupId?: string;
  /** start-to-finish, durable */
  timeoutMs?: number;
  appVersion?: string;
  user?: string;
}

export type ListFilter = Omit<ListQuery, 'status'> & { status?: Status[] | Status };

export interface ValidStartOptions {
  id?: string;
  queue?: string;
  priority?: number;
  dedupId?: string;
  appVersion?: string;
  user?: string;
}

/** Shape checks of start options; whether the queue is served here is the caller's check. */
export function validateStartOptions(opts: StartOptions, at = 'options'): ValidStartOptions {
  if (typeof opts !== 'object' || opts === null) throw new ConfigError(`${at} must be an object`);
  // Timeouts arrive with cancellation: refusing them beats recording a bound nothing enforces.
  if (opts.timeoutMs !== undefined) {
    throw new ConfigError(`${at}.timeoutMs is not supported yet by this version of skein`);
  }
  const o: ValidStartOptions = {
    id: checkText(`${at}.id`, opts.id, MAX_ID_LENGTH, true),
    queue: checkText(`${at}.queue`, opts.queue, MAX_NAME_LENGTH, true),
    priority: checkPriority(`${at}.priority`, opts.priority),
    dedupId: checkText(`${at}.dedupId`, opts.dedupId, MAX_ID_LENGTH, true),
    appVersion: checkText(`${at}.appVersion`, opts.appVersion, MAX_ID_LENGTH, true),
    user: checkText(`${at}.user`, opts.user, MAX_ID_LENGTH, true),
  };
  if (o.queue === undefined && (o.priority !== undefined || o.dedupId !== undefined)) {
    throw new ConfigError(`${at}.${o.priority !== undefined ? 'priority' : 'dedupId'} needs ${at}.queue`);
  }
  return o;
}

function count(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw new ConfigError(`filter.${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value as number;
}

const TEXT_FILTERS = ['idPrefix', 'name', 'queue', 'user', 'appVersion', 'executorId'] as const;

export function validateListFilter(filter: ListFilter): ListQuery {
  const status = filter.status === undefined ? undefined : [filter.status].flat();
  for (const s of status ?? []) {
    if (!STATUSES.includes(s)) {
      throw new ConfigError(`filter.status: unknown status ${JSON.stringify(s)}; one of ${STATUSES.join(', ')}`);
    }
  }
  if (filter.ids !== undefined && (!Array.isArray(filter.ids) || filter.ids.some((i) => typeof i !== 'string'))) {
    throw new ConfigError('filter.ids must be an array of strings');
  }
  // Filters only read, but a NUL is a raw Postgres error and a lone surrogate would match the
  // U+FFFD that encoding puts in its place, so they are refused like any text.
  filter.ids?.forEach((id, i) => checkStorable(`filter.ids[${i}]`, id));
  for (const key of TEXT_FILTERS) {
    if (filter[key] !== undefined) checkStorable(`filter.${key}`, filter[key]);
  }
  return {
    ...filter,
    status,
    limit: count('limit', filter.limit),
    offset: count('offset', filter.offset),
    loadInput: filter.loadInput ?? true,
    loadOutput: filter.loadOutput ?? true,
  };
}
