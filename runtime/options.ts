// Per-call options of the public API, validated before anything is written.
import { STATUSES, type ListQuery, type Status } from '../storage/workflows.ts';
import { ConfigError } from '../threads/errors.ts';

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

export const MAX_ID_LENGTH = 1000;

function text(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new ConfigError(
      `${name} must be a non-empty string of at most ${MAX_ID_LENGTH} characters, got ` +
        `${typeof value === 'string' ? `${value.length} characters` : JSON.stringify(value)}`,
    );
  }
  return value;
}

export function validateStartOptions(opts: StartOptions): StartOptions {
  if (typeof opts !== 'object' || opts === null) throw new ConfigError('start options must be an object');
  // Queues, priorities, deduplication and timeouts are not served yet: refusing them is better
  // than recording work that nothing would ever run or bound.
  for (const key of ['queue', 'priority', 'dedupId', 'timeoutMs'] as const) {
    if (opts[key] !== undefined) {
      throw new ConfigError(`options.${key} is not supported yet by this version of skein`);
    }
  }
  return {
    id: text('options.id', opts.id),
    appVersion: text('options.appVersion', opts.appVersion),
    user: text('options.user', opts.user),
  };
}

function count(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 0) {
    throw new ConfigError(`filter.${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value as number;
}

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
  return {
    ...filter,
    status,
    limit: count('limit', filter.limit),
    offset: count('offset', filter.offset),
    loadInput: filter.loadInput ?? true,
    loadOutput: filter.loadOutput ?? true,
  };
}
