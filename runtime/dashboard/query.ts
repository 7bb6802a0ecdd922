// The query strings of the dashboard's API, checked: a bad value is a ConfigError naming the
// parameter and the value (the API answers 400 with it). Limits are capped so that every
// request does a bounded amount of work on the service's main thread.
import { ConfigError } from '../../common/errors.ts';
import { STATUSES, type Status } from '../../common/status.ts';
import type { ListFilter } from '../../common/options.ts';

/** The most rows one list request returns. */
export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 50;
/** The most steps one timeline request returns (steps are small: most payloads are tiny). */
export const MAX_STEPS = 1000;

function shown(v: string): string {
  return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
}

/** A non-negative integer parameter up to `max`, else `fallback` when absent. */
export function intParam(q: URLSearchParams, key: string, fallback: number, max: number): number {
  const v = q.get(key);
  if (v === null || v === '') return fallback;
  const n = /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n > max) throw new ConfigError(`query parameter ${key} must be an integer from 0 to ${max}, got ${shown(v)}`);
  return n;
}

function dateParam(q: URLSearchParams, key: string): Date | undefined {
  const v = q.get(key);
  if (v === null || v === '') return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new ConfigError(`query parameter ${key} must be an ISO 8601 time, got ${shown(v)}`);
  return d;
}

function textParam(q: URLSearchParams, key: string): string | undefined {
  const v = q.get(key);
  return v === null || v === '' ? undefined : v;
}

/** /api/workflows?status=A,B&name=&queue=&idPrefix=&since=&until=&limit=&offset= as a ListFilter. */
export function listFilter(q: URLSearchParams): ListFilter & { limit: number } {
  const filter: ListFilter & { limit: number } = {
    limit: intParam(q, 'limit', DEFAULT_LIMIT, MAX_LIMIT),
    offset: intParam(q, 'offset', 0, Number.MAX_SAFE_INTEGER),
    desc: true,
    loadInput: false,
    loadOutput: false,
  };
  const status = textParam(q, 'status');
  if (status !== undefined) {
    const given = status.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
    const unknown = given.filter((s) => !STATUSES.includes(s as Status));
    if (unknown.length > 0) {
      throw new ConfigError(`query parameter status: unknown ${shown(unknown.join(','))}; expected some of ${STATUSES.join(', ')}`);
    }
    if (given.length > 0) filter.status = given as Status[];
  }
  // the rest are checked as listWorkflows checks its filter (well-formed text, lengths)
  for (const key of ['name', 'queue', 'idPrefix'] as const) {
    const v = textParam(q, key);
    if (v !== undefined) filter[key] = v;
  }
  const since = dateParam(q, 'since');
  const until = dateParam(q, 'until');
  if (since) filter.since = since;
  // the page shows times to the millisecond, Postgres keeps microseconds: `until` a shown time
  // takes in the rows of that millisecond
  if (until) filter.until = new Date(until.getTime() + 1);
  return filter;
}
