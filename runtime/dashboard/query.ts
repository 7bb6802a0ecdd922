// The query strings of the dashboard's API, checked: a bad value is a ConfigError naming the
// parameter and the value (the API answers 400 with it). Limits are capped so that every
// request does a bounded amount of work on the service's main thread.
import { ConfigError } from '../../common/errors.ts';
import { STATUSES, type Status } from '../../common/status.ts';
import type { ListFilter } from '../../common/options.ts';
import { checkText, MAX_ID_LENGTH } from '../../common/validate.ts';
import type { ListCursor } from '../../storage/workflows.ts';

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

/**
 * A page's place in the list, as the API gives it out (WorkflowPage.next, .prev): the row's
 * created_at to the microsecond, '~', its ID. Readable in a URL, and an ID may hold any
 * character: the time has a fixed form, so the first '~' after it ends it.
 */
export function formatCursor(c: ListCursor): string {
  return `${c.createdAt}~${c.id}`;
}

const CURSOR = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)~([\s\S]+)$/;

function cursorParam(q: URLSearchParams, key: string): ListCursor | undefined {
  const v = textParam(q, key);
  if (v === undefined) return undefined;
  const m = CURSOR.exec(v);
  // a time that is none, or that Date would roll over (February 30th), is refused here, not by Postgres
  const time = m ? new Date(m[1]!) : undefined;
  if (!m || !time || Number.isNaN(time.getTime()) || time.toISOString().slice(0, 23) !== m[1]!.slice(0, 23)) {
    throw new ConfigError(`query parameter ${key} must be a cursor of a page (its next or prev), got ${shown(v)}`);
  }
  return { createdAt: m[1]!, id: checkText(`query parameter ${key}'s ID`, m[2], MAX_ID_LENGTH) };
}

/**
 * Where a page of /api/workflows starts: `after` a cursor (the older rows), `before` one (the
 * newer rows), or `offset` rows down (kept for links made before cursors; it reads every row it
 * skips). At most one of them.
 */
export function listPlace(q: URLSearchParams): { after?: ListCursor; before?: ListCursor } {
  const after = cursorParam(q, 'after');
  const before = cursorParam(q, 'before');
  const given = [after && 'after', before && 'before', intParam(q, 'offset', 0, Number.MAX_SAFE_INTEGER) > 0 && 'offset'].filter(Boolean);
  if (given.length > 1) throw new ConfigError(`query parameters ${given.join(' and ')} cannot be combined: a page starts at one place`);
  return { ...(after && { after }), ...(before && { before }) };
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
