// Checks of arguments at the public surface, shared by both sides of the thread boundary (the
// workflow context on a worker, Skein and Client on the caller's thread). Each names what it
// checks, so the ConfigError says which argument was wrong.
import { ConfigError } from './errors.ts';

/** Workflow IDs, dedup IDs, idempotency keys. */
export const MAX_ID_LENGTH = 1000;
/** Topics, event keys, queue names: short enough to fit a NOTIFY payload beside an ID. */
export const MAX_NAME_LENGTH = 255;
/** Node timers overflow past 2^31-1 ms (about 24.8 days) into 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export const MAX_PRIORITY = 2 ** 31 - 1;

/** A non-empty string of at most `max` characters; undefined passes when `optional`. */
export function checkText(what: string, value: unknown, max: number, optional: true): string | undefined;
export function checkText(what: string, value: unknown, max: number, optional?: false): string;
export function checkText(what: string, value: unknown, max: number, optional = false): string | undefined {
  if (optional && value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    const got = typeof value === 'string' ? `${value.length} characters` : JSON.stringify(value);
    throw new ConfigError(`${what} must be a non-empty string of at most ${max} characters, got ${got}`);
  }
  return value;
}

/** A duration a timer can wait. */
export function checkMs(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMER_MS) {
    throw new ConfigError(`${what} must be a number of milliseconds from 0 to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}

export function checkPriority(what: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > MAX_PRIORITY) {
    throw new ConfigError(`${what} must be an integer from 1 to ${MAX_PRIORITY}, got ${String(value)}`);
  }
  return value as number;
}
