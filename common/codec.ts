// Payload codec: node:v8 structured serialization inside a two-byte envelope
// [format version, kind]. Values and errors are encoded where they are produced (the worker for
// step results and outputs, the caller for inputs) so the main thread only moves bytes.
//
// It lives in common/ because both sides encode and decode (the worker its results, main the
// inputs it is given and what a caller reads back); storage/ itself never looks inside a payload.
import { serialize, deserialize } from 'node:v8';
import { types } from 'node:util';
import { describe, DESCRIPTION_CHARS, isObject, messageOf, safeClassName, safeGet, safeString, standIn, truncate } from './describe.ts';
import { SerializationError, skeinErrorClasses, type ErrorClass } from './errors.ts';
import { isLeaf, locateRefusal, segment, unexplained } from './refusal.ts';

const FORMAT_VERSION = 1;
const KIND_VALUE = 0;
const KIND_ERROR = 1;

/** Postgres caps a bytea at 1 GiB; far below that a payload is a bug, not data. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** Counts decodes on this thread, so tests can show the main thread decodes nothing hot. */
export const codecStats = { decodes: 0 };

export type ErrorClasses = ReadonlyMap<string, ErrorClass>;

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
  try {
    return deserialize(bytes.subarray(2));
  } catch (err) {
    // stored before MAX_DEPTH was enforced, or damaged: a SerializationError, not a RangeError
    throw new SerializationError(`payload of ${bytes.length} bytes cannot be read: ${messageOf(err)}`, {
      cause: err,
    });
  }
}

/**
 * Encodes a workflow input, step result or output. Throws SerializationError, writes nothing.
 * `what` describes the value ("input of workflow 'checkout'"); `root` starts the path that names
 * the part v8 refused (`input.conn._handle`).
 */
export function encodeValue(value: unknown, what = 'value', root = rootOf(what)): Uint8Array {
  const r = trySerialize(value);
  if ('body' in r) return envelope(KIND_VALUE, r.body);
  if ('why' in r) throw new SerializationError(`${what} cannot be stored: ${r.why}`);
  const found = locateRefusal(value, root, r.refused, MAX_DEPTH);
  // v8's own error names a refused function by its whole source: kept only when nothing was found
  throw new SerializationError(
    `${what} cannot be stored: ${found?.clause ?? unexplained(r.refused)}`,
    safeCause(found ? found.cause : r.refused),
  );
}

/**
 * The first word of a path into a value, from its description: "input of workflow 'x'" ->
 * input, "message to x" -> message, "step 'x' result" -> result, "workflow 'x' output" -> output;
 * anything else (an event's value) -> value.
 */
function rootOf(what: string): string {
  return (/^(input|message)\b/.exec(what) ?? /\b(result|output)$/.exec(what))?.[1] ?? 'value';
}

export function decodeValue<T = unknown>(bytes: Uint8Array): T {
  return open(bytes, KIND_VALUE) as T;
}

/**
 * Serializes `value`, or says why it cannot be stored: it nests too deep (`why`), or v8 threw
 * (`refused`: its error), explained by `locateRefusal` only where a message is wanted.
 */
function trySerialize(value: unknown): { body: Buffer } | { why: string } | { refused: unknown } {
  let body: Buffer;
  try {
    body = serialize(value);
  } catch (err) {
    // a stack overflow in serialize is a depth problem: say so rather than "RangeError"
    if (depthProblem(value, false)) return { why: TOO_DEEP };
    return { refused: err };
  }
  const deep = body.length < DEPTH_CHECK_BYTES ? undefined : depthProblem(value, true);
  return deep ? { why: deep } : { body };
}

// ---- nesting ---------------------------------------------------------------------------------
//
// A worker thread's 4 MB stack lets v8 serialize values the main thread (about 1 MB) cannot
// deserialize. Measured on Node 20.20 at a shallow stack, bytes made on a worker given a big stack:
// plain objects nested 12,414 deep serialize on a worker, but deserialize fails from 7,759 on a
// worker and from 1,929 on the main thread (arrays 3,249, Maps and Sets 3,428; Error cause chains
// and mixed shapes still read at 3,000). Of a worker's resourceLimits only stackSizeMb (default
// 4) changes this; one set below 1 MB would fail to replay what the main thread reads.
// The main thread decodes for result() and getWorkflowSteps, so values nesting deeper than
// MAX_DEPTH are refused when encoded, on either side: about half of what the main thread reads,
// leaving the rest of its stack to whoever calls decode. (A decode that survives any depth would
// need a bigger stack than the main thread has; reading the depth from the bytes would tie the
// codec to v8's wire format.)
//
// Every level costs the serialized form at least 3 bytes (a Set: its tag, its end tag, its
// count), so a body shorter than DEPTH_CHECK_BYTES cannot nest that deep and skips the walk: the
// common path pays one comparison. encode+decode without -> with the check, interleaved, median
// of 15 rounds, three runs on a loaded 2-core machine: a typical 1 KB object (an order of 20
// line items) 38.7/45.8/46.5 -> 38.8/44.4/42.8 us (no difference); above the gate the walk is paid, about a
// quarter of a microsecond per object: 1,000 rows of 2 objects (43 KB) 1.97/2.27/2.07 ->
// 2.42/2.80/2.47 ms (+22%); a 1 MiB Uint8Array (a leaf) 416/446/407 -> 438/446/449 us.

/** The deepest nesting of objects, arrays, Maps, Sets and error causes that is stored. */
export const MAX_DEPTH = 1000;
const DEPTH_CHECK_BYTES = 3 * MAX_DEPTH;

const TOO_DEEP = `it nests deeper than ${MAX_DEPTH} levels, too deep to be read back`;

/**
 * Why `value` could not be read back once stored, or undefined. Never throws: a walk that
 * throws (a getter that throws now, a Proxy v8 would refuse) is a refusal if `strict`, else
 * left for serialize's own error to explain.
 */
function depthProblem(value: unknown, strict: boolean): string | undefined {
  try {
    return nestsPast(value, MAX_DEPTH) ? TOO_DEEP : undefined;
  } catch (err) {
    return strict ? `inspecting it threw ${describe(err)}` : undefined;
  }
}

/**
 * Walks what v8 serializes, in its order, so an object met again (a back-reference, not
 * nesting) is first met at the depth v8 writes it. Getters run a second time here.
 */
function nestsPast(root: unknown, limit: number): boolean {
  const seen = new Set<object>();
  const visit = (v: unknown, depth: number): boolean => {
    if (typeof v !== 'object' || v === null || seen.has(v)) return false;
    seen.add(v);
    // arrays first, the commonest; util.types checks cost a call into C++ each
    const array = Array.isArray(v);
    if (!array && isLeaf(v)) return false;
    if (depth > limit) return true;
    if (!array && types.isMap(v)) {
      for (const [k, x] of Map.prototype.entries.call(v)) {
        if (visit(k, depth + 1) || visit(x, depth + 1)) return true;
      }
      return false;
    }
    if (!array && types.isSet(v)) {
      for (const x of Set.prototype.values.call(v)) if (visit(x, depth + 1)) return true;
      return false;
    }
    if (!array && types.isNativeError(v)) {
      // of an error v8 keeps its message, stack and cause (an own data property), nothing else
      const cause = Object.getOwnPropertyDescriptor(v, 'cause');
      return cause !== undefined && 'value' in cause && visit(cause.value, depth + 1);
    }
    for (const key of Object.keys(v)) {
      if (visit((v as Record<string, unknown>)[key], depth + 1)) return true;
    }
    return false;
  };
  return visit(root, 1);
}

// ---- errors ----------------------------------------------------------------------------------
//
// encodeError never throws: a throw there is taken for the thread's death, so the workflow is
// dispatched again and again, and a step's failure is never recorded. What cannot be encoded (a
// getter that throws, a Proxy, an oversized or too deep property, a value v8 cannot clone)
// becomes a SerializationError describing the original. Everything read of the original goes
// through `safe*` helpers, since any of its properties may be a getter, and it may be a Proxy.

/** Why an error cannot be encoded as it is; not an Error, so it captures no stack. */
class Refusal {
  constructor(readonly reason: string) {}
}

/** Longest stack kept of an error that could not be stored. */
const STACK_CHARS = 8000;

/** The cause to keep: not a Proxy (even revoked), which would make its error unencodable. */
function safeCause(err: unknown): { cause?: unknown } {
  return err === undefined || (isObject(err) && types.isProxy(err)) ? {} : { cause: err };
}

function isError(v: unknown): v is Error {
  // a Proxy's getPrototypeOf trap may throw: a Refusal, reported as such
  try {
    return v instanceof Error;
  } catch (err) {
    throw new Refusal(`inspecting it threw ${describe(err)}`);
  }
}

/** `obj[key]`; a getter that throws is a Refusal naming it by its path (`error.cause.code`). */
function read(obj: object, key: string, path: string): unknown {
  try {
    return (obj as Record<string, unknown>)[key];
  } catch (err) {
    throw new Refusal(`reading ${path}${segment(key, false)} threw ${describe(err)}`);
  }
}

/**
 * Whether a value can be kept as it is inside an error (else it is kept as a string); its
 * encoded size counts against `budget`. One too big or too deep is a Refusal naming it.
 */
function keepable(value: unknown, what: string, budget: { bytes: number }): boolean {
  const r = trySerialize(value);
  if ('refused' in r) return false;
  if ('why' in r) throw new Refusal(`${what}: ${r.why}`);
  budget.bytes -= r.body.length;
  if (budget.bytes < 0) {
    throw new Refusal(
      `${what} is ${r.body.length} bytes encoded, which exceeds the ${MAX_PAYLOAD_BYTES}-byte payload limit`,
    );
  }
  return true;
}

function wrap(err: unknown, budget: { bytes: number }, path = 'error', depth = 0): WrappedError {
  if (!isError(err)) {
    // unlike a property, what cannot be cloned cannot be kept as a string in its place
    const r = trySerialize(err);
    if ('why' in r) throw new Refusal(r.why);
    if ('refused' in r) throw new Refusal(locateRefusal(err, 'thrown', r.refused, MAX_DEPTH)?.clause ?? unexplained(r.refused));
    return {
      className: 'Error',
      name: 'Error',
      message: typeof err === 'string' ? err : `non-error thrown: ${truncate(safeString(err), DESCRIPTION_CHARS)}`,
      props: {},
      thrown: { value: err },
    };
  }
  // read in this order, so the first that throws is the one reported
  const message = read(err, 'message', path);
  const name = read(err, 'name', path);
  const stack = read(err, 'stack', path);
  const ctor = read(err, 'constructor', path);
  const ctorName = isObject(ctor) ? read(ctor, 'name', `${path}.constructor`) : undefined;
  const props: Record<string, unknown> = {};
  let keys: string[];
  try {
    keys = Object.keys(err);
  } catch (e) {
    throw new Refusal(`listing its properties threw ${describe(e)}`);
  }
  for (const key of keys) {
    if (key === 'cause') continue;
    const value = read(err, key, path);
    props[key] = keepable(value, `${path}${segment(key, false)}`, budget) ? value : standIn(value);
  }
  const wrapped: WrappedError = {
    className: typeof ctorName === 'string' ? ctorName : typeof name === 'string' ? name : 'Error',
    name: typeof name === 'string' ? name : safeString(name),
    message: typeof message === 'string' ? message : safeString(message),
    stack: typeof stack === 'string' ? stack : undefined,
    props,
  };
  let hasCause: boolean;
  try {
    hasCause = 'cause' in err;
  } catch (e) {
    throw new Refusal(`looking for its cause threw ${describe(e)}`);
  }
  const cause = hasCause ? read(err, 'cause', path) : undefined;
  if (cause !== undefined && depth < 8) {
    wrapped.cause = isError(cause)
      ? { error: wrap(cause, budget, `${path}.cause`, depth + 1) }
      : { value: keepable(cause, `${path}.cause`, budget) ? cause : standIn(cause) };
  }
  return wrapped;
}

/** The SerializationError recorded in place of `err`, which could not be encoded because of `failure`. */
function unstorable(err: unknown, failure: unknown): WrappedError {
  const reason = failure instanceof Refusal ? failure.reason : `encoding it threw ${describe(failure)}`;
  const rawMessage = !isObject(err) ? safeString(err) : safeGet(err, 'message');
  const rawStack = isObject(err) ? safeGet(err, 'stack') : undefined;
  const original =
    typeof rawMessage === 'string'
      ? `${safeClassName(err)} ("${truncate(rawMessage, DESCRIPTION_CHARS)}")`
      : isObject(err) && types.isNativeError(err)
        ? `${safeClassName(err)} (its message could not be read)`
        : safeClassName(err);
  const message = `could not store the thrown ${original}: ${reason}`;
  return {
    className: 'SerializationError',
    name: 'SerializationError',
    message,
    // where the original was thrown, which is what its reader needs
    stack:
      typeof rawStack === 'string'
        ? `SerializationError: ${message}\n  the original's stack:\n${truncate(rawStack, STACK_CHARS)}`
        : undefined,
    props: { code: 'SERIALIZATION' },
  };
}

/** Recorded if even the description of an unstorable error could not be encoded. */
const LAST_RESORT = envelope(
  KIND_ERROR,
  serialize({
    className: 'SerializationError',
    name: 'SerializationError',
    message: 'could not store a thrown value, nor describe it',
    props: { code: 'SERIALIZATION' },
  } satisfies WrappedError),
);

/**
 * Encodes anything thrown. Never throws: what cannot be kept as it is becomes a
 * SerializationError describing it (its class, its message and what failed).
 */
export function encodeError(err: unknown): Uint8Array {
  try {
    const wrapped = wrap(err, { bytes: MAX_PAYLOAD_BYTES });
    const body = serialize(wrapped);
    if (body.length + 2 > MAX_PAYLOAD_BYTES) {
      throw new Refusal(`it is ${body.length} bytes encoded, which exceeds the ${MAX_PAYLOAD_BYTES}-byte payload limit`);
    }
    // causes and the wrapping add levels to those of the properties checked one by one
    const deep = body.length < DEPTH_CHECK_BYTES ? undefined : depthProblem(wrapped, true);
    if (deep) throw new Refusal(deep);
    return envelope(KIND_ERROR, body);
  } catch (failure) {
    try {
      return envelope(KIND_ERROR, serialize(unstorable(err, failure)));
    } catch {
      return LAST_RESORT.slice();
    }
  }
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
