// The CLI's option values, checked as commander reads them: a bad one ends the command with one
// line naming the option and the value, before any database is touched. Each parser throws
// commander's InvalidArgumentError with what was expected; commander adds the option and value.
import { InvalidArgumentError } from 'commander';
import { STATUSES, type Status } from '../../common/status.ts';
import { validateSchemaName } from '../../storage/identifiers.ts';

export function positiveInteger(text: string): number {
  return integer(text, 1, 'expected a positive integer');
}

export function nonNegativeInteger(text: string): number {
  return integer(text, 0, 'expected a non-negative integer');
}

function integer(text: string, min: number, expected: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(expected);
  return n;
}

/** A repeatable option: each use adds to the list. */
export function repeated(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

/** --status: repeatable and comma-separated, any case. */
export function statuses(text: string, previous: Status[] = []): Status[] {
  const given = text.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  const unknown = given.filter((s) => !STATUSES.includes(s as Status));
  if (given.length === 0 || unknown.length > 0) {
    const what = unknown.length ? `unknown status ${unknown.join(', ')}; ` : '';
    throw new InvalidArgumentError(`${what}expected one or more of ${STATUSES.join(', ')} (comma-separated)`);
  }
  return [...previous, ...(given as Status[])];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;
/** 2026-12-03, 2026-12-03T21:40, 2026-12-03 21:40:12.5, each with an optional Z or +01:00 */
const DATE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A point in time: a duration ago (30s, 15m, 1h, 2d, 1w) or an ISO date; a date without a zone
 * is UTC, as every time the CLI prints.
 */
export function pointInTime(text: string, now = Date.now()): Date {
  const d = DURATION.exec(text.trim());
  if (d) {
    const ago = new Date(now - Number(d[1]) * UNIT_MS[d[2]!]!);
    if (!Number.isNaN(ago.getTime())) return ago;
    throw new InvalidArgumentError(`${text.trim()} ago is before any date there is`);
  }
  const m = DATE.exec(text.trim());
  const date = m && realDay(m[1]!) ? new Date(`${m[1]}T${m[2] ?? '00:00'}${m[3] ?? 'Z'}`) : null;
  if (!date || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('expected a duration ago (30s, 15m, 1h, 2d, 1w) or an ISO date (2026-12-03, 2026-12-03T21:40:00Z)');
  }
  return date;
}

/** A day the month has: Date would roll 2026-02-30 over to March 2. */
function realDay(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d && m >= 1 && m <= 12;
}

export function schemaName(text: string): string {
  try {
    return validateSchemaName(text);
  } catch (err) {
    // the ConfigError says `config.schema "x" must ...`: keep what it must be
    throw new InvalidArgumentError((err as Error).message.replace(/^config\.schema "[^"]*" /, ''));
  }
}
