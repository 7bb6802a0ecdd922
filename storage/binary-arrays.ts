// The writer's array parameters in Postgres's binary array format (what array_recv reads). The
// driver sends a Buffer parameter as binary and everything else as text: an array went as a text
// literal built element by element (quoting and escaping every string, a bytea as hex), and that
// was the largest part of building a flush on the main thread (--cpu-prof of 2,000 concurrent
// workflows: prepareValue / arrayString / escapeElement ~73 of 1,000 ms busy). Packed, it is a
// byte copy per element, and a large payload is no longer doubled into a hex string.
//
// Layout (src/backend/utils/adt/arrayfuncs.c, array_recv): int32 dimensions (0 for an empty
// array, else 1), int32 has-nulls flag, uint32 element type OID, then per dimension int32 size
// and int32 lower bound (1), then per element int32 length (-1 for NULL) and its bytes in the
// element type's binary format.

export type ElementType = 'text' | 'bytea' | 'int' | 'bigint' | 'float8' | 'boolean';

const OID: Record<ElementType, number> = { text: 25, bytea: 17, int: 23, bigint: 20, float8: 701, boolean: 16 };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const TWO_32 = 2 ** 32;

/**
 * `values` as one binary `type[]` parameter. An element that is not of the type (a fraction
 * for an int, say) leaves the whole array as it was: the driver sends it as text, and Postgres
 * answers it as it always did (an error naming the value, not a value silently changed).
 *
 * One function per element type, each with its own loops: a single loop switching on the type
 * saw strings, byte arrays and numbers at the same sites and ran ~2x slower (--cpu-prof).
 */
export function packArray(type: ElementType, values: readonly unknown[]): Buffer | readonly unknown[] {
  switch (type) {
    case 'text':
      return packText(values);
    case 'bytea':
      return packBytes(values);
    case 'int':
      return packFixed(values, type, 4, (v) => Number.isInteger(v) && (v as number) >= INT32_MIN && (v as number) <= INT32_MAX, (buf, v, at) => buf.writeInt32BE(v, at));
    case 'bigint':
      return packFixed(values, type, 8, Number.isSafeInteger, writeInt64);
    case 'float8':
      return packFixed(values, type, 8, (v) => typeof v === 'number', (buf, v, at) => buf.writeDoubleBE(v, at));
    case 'boolean':
      return packFixed(values, type, 1, (v) => typeof v === 'boolean', (buf, v, at) => buf.writeUInt8(v ? 1 : 0, at));
  }
}

/** The array header; returns where the elements begin. */
function header(buf: Buffer, type: ElementType, count: number, nulls: boolean): number {
  buf.writeInt32BE(count === 0 ? 0 : 1, 0);
  buf.writeInt32BE(nulls ? 1 : 0, 4);
  buf.writeUInt32BE(OID[type], 8);
  if (count === 0) return 12;
  buf.writeInt32BE(count, 12);
  buf.writeInt32BE(1, 16);
  return 20;
}

function headerSize(count: number): number {
  return count === 0 ? 12 : 20;
}

function packText(values: readonly unknown[]): Buffer | readonly unknown[] {
  let size = headerSize(values.length);
  let nulls = false;
  for (const v of values) {
    if (v === null || v === undefined) nulls = true;
    else if (typeof v !== 'string') return values;
    // at most 3 bytes per UTF-16 unit; the exact size is known once written
    else size += v.length * 3;
    size += 4;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = header(buf, 'text', values.length, nulls);
  for (const v of values) {
    if (v === null || v === undefined) {
      buf.writeInt32BE(-1, at);
      at += 4;
      continue;
    }
    const n = buf.write(v as string, at + 4);
    buf.writeInt32BE(n, at);
    at += 4 + n;
  }
  return buf.subarray(0, at);
}

function packBytes(values: readonly unknown[]): Buffer | readonly unknown[] {
  let size = headerSize(values.length);
  let nulls = false;
  for (const v of values) {
    if (v === null || v === undefined) nulls = true;
    else if (!(v instanceof Uint8Array)) return values;
    else size += v.byteLength;
    size += 4;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = header(buf, 'bytea', values.length, nulls);
  for (const v of values) {
    if (v === null || v === undefined) {
      buf.writeInt32BE(-1, at);
      at += 4;
      continue;
    }
    const bytes = v as Uint8Array;
    buf.writeInt32BE(bytes.byteLength, at);
    buf.set(bytes, at + 4);
    at += 4 + bytes.byteLength;
  }
  return buf;
}

function packFixed(
  values: readonly unknown[],
  type: ElementType,
  width: number,
  isOfType: (v: unknown) => boolean,
  write: (buf: Buffer, v: any, at: number) => void,
): Buffer | readonly unknown[] {
  let size = headerSize(values.length);
  let nulls = false;
  for (const v of values) {
    if (v === null || v === undefined) nulls = true;
    else if (!isOfType(v)) return values;
    else size += width;
    size += 4;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = header(buf, type, values.length, nulls);
  for (const v of values) {
    if (v === null || v === undefined) {
      buf.writeInt32BE(-1, at);
      at += 4;
      continue;
    }
    buf.writeInt32BE(width, at);
    write(buf, v, at + 4);
    at += 4 + width;
  }
  return buf;
}

/** A safe integer as a big-endian int64: two 32-bit halves (no BigInt per value). */
function writeInt64(buf: Buffer, n: number, at: number): void {
  const high = Math.floor(n / TWO_32);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(n - high * TWO_32, at + 4);
}

/** The element type of each `$n::type[]` parameter of `text` (index n - 1), for packArray. */
export function arrayParamTypes(text: string): (ElementType | undefined)[] {
  const types: (ElementType | undefined)[] = [];
  for (const m of text.matchAll(/\$(\d+)::(text|bytea|int|bigint|float8|boolean)\[\]/g)) {
    types[Number(m[1]) - 1] = m[2] as ElementType;
  }
  return types;
}
