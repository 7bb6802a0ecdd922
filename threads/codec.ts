// Payload codec: node:v8 structured serialization inside a two-byte envelope
// [format version, kind]. Values and errors are encoded where they are produced (the worker for
// step results and outputs, the caller for inputs) so the main thread only moves bytes.
//
// It lives under threads/ (DESIGN.md places it in storage/) because the worker encodes and
// threads/ may not import storage/; storage/ itself never looks inside a payload.
import { serialize, deserialize } from 'node:v8';
import { SerializationError, skeinErrorClasses } from './errors.ts';

const FORMAT_VERSION = 1;
const KIND_VALUE = 0;
const KIND_ERROR = 1;

/** Postgres caps a bytea at 1 GiB; far below that a payload is a bug, not data. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Counts decodes on this thread, so tests can show the main thread decodes nothing hot. */
export const codecStats = { decodes: 0 };

export type ErrorClasses = ReadonlyMap<string, new (...args: any[]) => Error>;

interface WrappedError {
  /** the constructor's name: the class to rebuild, even when `name` was left as 'Error' */
  className: string;
  name: string;
  message: string;
  stack?: string;
  /** own enumerable properties (`code`, `status`, ...), each kept only if it serializes */
  props: Record<string, unknown>;
  cause?: { error: WrappedError } | { value: unknown };
  /** set when something other than an Error was thrown: the thrown value itself */
  thrown?: { value: unknown };
}

function envelope(kind: number, body: Buffer): Uint8Array {
  const out = new Uint8Array(body.length + 2);
  out[0] = FORMAT_VERSION;
  out[1] = kind;
  out.set(body, 2);
  if (out.length > MAX_PAYLOAD_BYTES) {
    throw new SerializationError(
      `payload of ${out.length} bytes exceeds the ${MAX_PAYLOAD_BYTES}-byte limit`,
    );
  }
  return out;
}

function open(bytes: Uint8Array, kind: number): unknown {
  if (bytes.length < 2 || bytes[0] !== FORMAT_VERSION || bytes[1] !== kind) {
    throw new SerializationError(
      `unreadable payload: format ${bytes[0]}, kind ${bytes[1]} (expected ${FORMAT_VERSION}, ${kind})`,
    );
  }
  codecStats.decodes++;
  return deserialize(bytes.subarray(2));
}

/** Encodes a workflow input, step result or output. Throws SerializationError, writes nothing. */
export function encodeValue(value: unknown, what = 'value'): Uint8Array {
  let body: Buffer;
  try {
    body = serialize(value);
  } catch (err) {
    throw new SerializationError(
      `${what} cannot be stored: ${(err as Error).message} (functions, symbols and promises ` +
        `are not serializable)`,
      { cause: err },
    );
  }
  return envelope(KIND_VALUE, body);
}

export function decodeValue<T = unknown>(bytes: Uint8Array): T {
  return open(bytes, KIND_VALUE) as T;
}

function serializable(value: unknown): boolean {
  try {
    serialize(value);
    return true;
  } catch {
    return false;
  }
}

function wrap(err: unknown, depth = 0): WrappedError {
  if (!(err instanceof Error)) {
    return {
      className: 'Error',
      name: 'Error',
      message: typeof err === 'string' ? err : `non-error thrown: ${String(err)}`,
      props: {},
      thrown: serializable(err) ? { value: err } : undefined,
    };
  }
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    const value = (err as unknown as Record<string, unknown>)[key];
    if (key === 'cause') continue;
    props[key] = serializable(value) ? value : String(value);
  }
  const className = typeof err.constructor?.name === 'string' ? err.constructor.name : err.name;
  const wrapped: WrappedError = {
    className,
    name: err.name,
    message: err.message,
    stack: err.stack,
    props,
  };
  if ('cause' in err && err.cause !== undefined && depth < 8) {
    wrapped.cause =
      err.cause instanceof Error
        ? { error: wrap(err.cause, depth + 1) }
        : { value: serializable(err.cause) ? err.cause : String(err.cause) };
  }
  return wrapped;
}

/** Encodes anything thrown. Never throws: what cannot be kept is turned into a string. */
export function encodeError(err: unknown): Uint8Array {
  return envelope(KIND_ERROR, serialize(wrap(err)));
}

const builtinErrors: ErrorClasses = new Map<string, new (message?: string) => Error>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
]);

const namedClasses = new Map<string, new (message?: string) => Error>();

/** A stand-in class whose `name` is the original's, for errors the receiver does not know. */
const IDENTIFIER = /^[A-Za-z_$][\w$]{0,99}$/;

function namedErrorClass(name: string): new (message?: string) => Error {
  const safe = IDENTIFIER.test(name) ? name : 'Error';
  let cls = namedClasses.get(safe);
  if (!cls) {
    cls = { [safe]: class extends Error {} }[safe]!;
    Object.defineProperty(cls.prototype, 'name', { value: safe, writable: true, configurable: true });
    namedClasses.set(safe, cls);
  }
  return cls;
}

function unwrap(w: WrappedError, classes?: ErrorClasses): unknown {
  if (w.thrown) return w.thrown.value;
  const known = (n: string) => classes?.get(n) ?? skeinErrorClasses.get(n) ?? builtinErrors.get(n);
  const cls =
    known(w.className) ??
    (IDENTIFIER.test(w.className) ? namedErrorClass(w.className) : known(w.name) ?? Error);
  // A native Error with the class's prototype, made without running the class's constructor:
  // user constructors may take other arguments or have side effects, and the own properties
  // below restore what the constructor had set. (Object.create would not make a native error,
  // which `util.types.isNativeError` and test runners check.)
  const err = Reflect.construct(Error, [], cls) as Error;
  Object.defineProperty(err, 'message', { value: w.message, writable: true, configurable: true });
  if (w.stack !== undefined) {
    Object.defineProperty(err, 'stack', { value: w.stack, writable: true, configurable: true });
  }
  if (err.name !== w.name) {
    Object.defineProperty(err, 'name', { value: w.name, writable: true, configurable: true });
  }
  Object.assign(err, w.props);
  if (w.cause) {
    const cause = 'error' in w.cause ? unwrap(w.cause.error, classes) : w.cause.value;
    Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true });
  }
  return err;
}

/** Rebuilds an encoded error, as an instance of the matching class in `classes` if any. */
export function decodeError(bytes: Uint8Array, classes?: ErrorClasses): unknown {
  return unwrap(open(bytes, KIND_ERROR) as WrappedError, classes);
}
