// Checks of arguments at the public surface, shared by both sides of the thread boundary (the
// workflow context on a worker, Skein and Client on the caller's thread). Each names what it
// checks, so the ConfigError says which argument was wrong.
import { ConfigError } from './errors.ts';

/** Workflow IDs, dedup IDs, idempotency keys. */
export const MAX_ID_LENGTH = 1000;
/**
 * Names: of workflows, steps, queues, topics and event keys. Short enough to fit a NOTIFY
 * payload beside an ID.
 */
export const MAX_NAME_LENGTH = 255;
/** Node timers overflow past 2^31-1 ms (about 24.8 days) into 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const MAX_PRIORITY = 2 ** 31 - 1;

/**
 * Why Postgres cannot store `value` as given, or undefined if it can. A NUL is refused by
 * every text column and parameter (a raw error when written, so a workflow would re-run the
 * write until its recovery attempts ran out). A lone surrogate has no UTF-8 form: encoding turns
 * it into U+FFFD, so the stored text differs from the caller's and two such IDs collide.
 */
function unstorable(value: string): string | undefined {
  const nul = value.indexOf('\u0000');
  if (nul >= 0) return `a NUL character at index ${nul}`;
  if ((value as string & { isWellFormed(): boolean }).isWellFormed()) return undefined;
  const at = value.search(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
  return `a lone surrogate at index ${at}`;
}

/**
 * What `value` is, for a message: short, and safe to print (a bad string escaped, since the raw
 * one could break a log line or a terminal).
 */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : 'a Date';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/** A string Postgres stores exactly as given: well-formed UTF-16 without NUL. */
export function checkStorable(what: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new ConfigError(`${what} must be a string, got ${value === null ? 'null' : typeof value}`);
  }
  const why = unstorable(value);
  if (why !== undefined) {
    throw new ConfigError(
      `${what} must be well-formed UTF-16 text without NUL characters (Postgres cannot store it as given), ` +
        `got ${shown(value)} with ${why}`,
    );
  }
  return value;
}

/**
 * A non-empty string of at most `max` characters that Postgres stores as given (see
 * checkStorable); undefined passes when `optional`.
 */
export function checkText(what: string, value: unknown, max: number, optional: true): string | undefined;
export function checkText(what: string, value: unknown, max: number, optional?: false): string;
export function checkText(what: string, value: unknown, max: number, optional = false): string | undefined {
  if (optional && value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    const got = typeof value === 'string' ? `${value.length} characters` : JSON.stringify(value);
    throw new ConfigError(`${what} must be a non-empty string of at most ${max} characters, got ${got}`);
  }
  return checkStorable(what, value);
}

/** A duration a timer can wait. */
export function checkMs(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new ConfigError(`${what} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}
