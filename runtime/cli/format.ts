// How the CLI shows things: aligned tables, times (UTC, with how long ago), values cut to keep a
// row readable, and the plain JSON that --json prints of any decoded value (a workflow's input
// may hold a bigint, a Map, a cycle: JSON.stringify alone throws on some and empties others).

export interface Column<R> {
  header: string;
  value(row: R): string;
  /** cut longer values with an ellipsis; default: never */
  max?: number;
  /** numbers line up on the right */
  right?: boolean;
}

/** Rows under a header, each column as wide as its widest cell, two spaces apart. */
export function table<R>(rows: readonly R[], columns: readonly Column<R>[]): string {
  const cells = rows.map((row) => columns.map((c) => cut(oneLine(c.value(row)), c.max)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n');
}

/** `label  value` lines, labels padded to one width: one record, for `get`. */
export function fields(entries: readonly [string, string | undefined][]): string {
  const shown = entries.filter((e): e is [string, string] => e[1] !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length));
  // a value of several lines (a stack) keeps its lines, indented under the first
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v.split('\n').join(`\n${' '.repeat(width + 2)}`)}`).join('\n');
}

/** `text` cut to `max` characters, the last one an ellipsis. */
export function cut(text: string, max?: number): string {
  return max !== undefined && text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Control characters (newlines in an error message) as spaces: one row stays one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\u0000-\u001f\u007f]/g, ' ');
}

/** `2026-12-03 21:40:12 (3m ago)`, in UTC (a table's header says so); `-` for none. */
export function when(date: Date | undefined, now = Date.now()): string {
  if (!date) return '-';
  return `${utc(date)} (${relative(date.getTime() - now)})`;
}

/** `2026-12-03 21:40:12 UTC (3m ago)`: a time on a line of its own. */
export function whenUtc(date: Date, now = Date.now()): string {
  return `${utc(date)} UTC (${relative(date.getTime() - now)})`;
}

/** `2026-12-03 21:40:12`, UTC. */
export function utc(date: Date): string {
  return date.toISOString().replace('T', ' ').slice(0, 19);
}

function relative(deltaMs: number): string {
  if (Math.abs(deltaMs) < 1000) return 'now';
  return deltaMs < 0 ? `${span(-deltaMs)} ago` : `in ${span(deltaMs)}`;
}

/** A rough length of time: 12s, 3m, 5h, 3d. */
function span(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** How long something took: 850ms, 1.2s, 3m12s, 2h05m; `-` when it has not ended. */
export function took(from: Date | undefined, to: Date | undefined): string {
  if (!from || !to) return '-';
  const ms = Math.max(0, to.getTime() - from.getTime());
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
}

/** A decoded value as compact JSON, for a cell or a field. */
export function compact(value: unknown): string {
  return JSON.stringify(jsonable(value)) ?? 'undefined';
}

/** An error as one line: `Name: message`. */
export function errorLine(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : compact(error);
}

/**
 * A decoded value as plain JSON data. Dates become ISO strings, bigints `"12n"`, errors their
 * name, message, stack and own properties; Maps, Sets and binary data are tagged with `$type`;
 * a cycle is `"[Circular]"`.
 */
export function jsonable(value: unknown, ancestors = new Set<object>()): unknown {
  switch (typeof value) {
    case 'bigint':
      return `${value}n`;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'function':
    case 'symbol':
      return String(value);
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (ancestors.has(value)) return '[Circular]';
  ancestors.add(value);
  try {
    const inner = (v: unknown) => jsonable(v, ancestors);
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof Error) {
      const { name, message, stack } = value;
      const own = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inner(v)]));
      const cause = 'cause' in value ? { cause: inner(value.cause) } : {};
      return { name, message, ...own, ...cause, stack };
    }
    if (value instanceof Map) return { $type: 'Map', entries: [...value].map(([k, v]) => [inner(k), inner(v)]) };
    if (value instanceof Set) return { $type: 'Set', values: [...value].map(inner) };
    if (value instanceof RegExp) return String(value);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return { $type: value.constructor.name, base64: Buffer.from(bytes).toString('base64') };
    }
    // holes and undefined entries read as null, as JSON.stringify has them
    if (Array.isArray(value)) return Array.from(value, (v) => (v === undefined ? null : inner(v)));
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, inner(v)]));
  } finally {
    ancestors.delete(value);
  }
}
