// What v8 refused in a value that failed to serialize, named by its path (`input.conn._handle`).
// v8 says what it refused by printing it, which for a function is its whole source, and never
// says where it was. Once serialize has failed (never on the hot path), the value is walked in
// v8's order, so the first refusal met is the one v8 met.
import { DefaultSerializer } from 'node:v8';
import { types } from 'node:util';
import { describe, messageOf, safeClassName, safeString, truncate } from './describe.ts';

/** What v8 writes without looking inside (whatever own properties it was given). */
export function isLeaf(v: object): boolean {
  return (
    ArrayBuffer.isView(v) ||
    types.isDate(v) ||
    types.isRegExp(v) ||
    types.isBoxedPrimitive(v) ||
    types.isAnyArrayBuffer(v)
  );
}

const UNSTORABLE = 'functions, symbols, promises, WeakMaps, proxies and native handles cannot be stored';
/** Longest rendering of a key or a name inside a path or a description. */
const RENDER_CHARS = 60;

/** Objects v8 refuses whatever they hold, by what they are. */
function refusedKind(v: object): string | undefined {
  if (types.isProxy(v)) return 'a Proxy';
  if (types.isPromise(v)) return 'a Promise';
  if (types.isWeakMap(v)) return 'a WeakMap';
  if (types.isWeakSet(v)) return 'a WeakSet';
  if (v instanceof WeakRef) return 'a WeakRef';
  if (v instanceof FinalizationRegistry) return 'a FinalizationRegistry';
  if (types.isGeneratorObject(v)) return 'a generator';
  if (types.isMapIterator(v) || types.isSetIterator(v)) return 'an iterator';
  if (types.isArgumentsObject(v)) return 'an arguments object';
  if (types.isModuleNamespaceObject(v)) return 'a module namespace';
  if (types.isSharedArrayBuffer(v)) return 'a SharedArrayBuffer';
  if (types.isSymbolObject(v)) return 'a boxed symbol';
  return undefined;
}

/** A key or a symbol as a path or a description shows it, bounded. */
function render(v: unknown): string {
  return truncate(typeof v === 'string' ? JSON.stringify(v) : typeof v === 'bigint' ? `${v}n` : safeString(v), RENDER_CHARS);
}

/** `.key`, or `["key"]` for a key that is not an identifier, `[3]` for an array index. */
export function segment(key: string, array: boolean): string {
  if (array && /^\d+$/.test(key)) return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) && key.length <= RENDER_CHARS ? `.${key}` : `[${render(key)}]`;
}

/** Node's hook for host objects, undeclared in its types. */
interface HostWriter {
  _writeHostObject(object: object): void;
}

/** The object v8 failed on as a host object (a MessagePort, a Blob), if it did. */
function refusedHostObject(value: unknown): object | undefined {
  let culprit: object | undefined;
  // Node writes typed arrays and Buffers as host objects, and refuses any other in this method
  const write = (DefaultSerializer.prototype as unknown as HostWriter)._writeHostObject;
  class Probe extends DefaultSerializer implements HostWriter {
    _writeHostObject(object: object): void {
      try {
        write.call(this, object);
      } catch (err) {
        culprit = object;
        throw err;
      }
    }
  }
  try {
    new Probe().writeValue(value);
  } catch {
    // expected: it is the failure being explained
  }
  return culprit;
}

/**
 * Where in `value` v8 gave up (given `err`, what it threw), as a clause naming the path from
 * `root`, and the error worth keeping as the cause; undefined if it cannot be found. Never
 * throws. The walk stops below `maxDepth`, the deepest nesting the codec stores.
 */
export function locateRefusal(
  value: unknown,
  root: string,
  err: unknown,
  maxDepth: number,
): { clause: string; cause?: unknown } | undefined {
  const host = messageOf(err).startsWith('Unserializable host object') ? refusedHostObject(value) : undefined;
  const seen = new Set<object>();
  const refused = (path: string, what: string) => ({ clause: `${path} is ${what} (${UNSTORABLE})` });
  const visit = (v: unknown, path: string, depth: number): { clause: string; cause?: unknown } | undefined => {
    if (typeof v === 'symbol') return refused(path, `a symbol (${render(v)})`);
    if (typeof v === 'function') {
      // its name, read without running a getter, unless the path already says it (`.onData`)
      const name = Object.getOwnPropertyDescriptor(v, 'name')?.value;
      const named = typeof name === 'string' && name.trim() !== '' && !path.endsWith(`.${name}`);
      return refused(path, named ? `a function named '${truncate(name, RENDER_CHARS)}'` : 'a function');
    }
    if (typeof v !== 'object' || v === null || seen.has(v) || depth > maxDepth) return undefined;
    seen.add(v);
    const kind = refusedKind(v);
    if (kind) return refused(path, kind);
    if (v === host) return refused(path, `a ${safeClassName(v)}`);
    if (isLeaf(v)) return undefined;
    if (types.isMap(v)) {
      let i = 0;
      for (const [k, x] of Map.prototype.entries.call(v)) {
        const keyed = typeof k === 'object' || typeof k === 'function' ? `.values()[${i}]` : `.get(${render(k)})`;
        const found = visit(k, `${path}.keys()[${i}]`, depth + 1) ?? visit(x, `${path}${keyed}`, depth + 1);
        if (found) return found;
        i++;
      }
      return undefined;
    }
    if (types.isSet(v)) {
      let i = 0;
      for (const x of Set.prototype.values.call(v)) {
        const found = visit(x, `${path}.values()[${i++}]`, depth + 1);
        if (found) return found;
      }
      return undefined;
    }
    if (types.isNativeError(v)) {
      // of an error v8 keeps its message, stack and cause (an own data property), nothing else
      const cause = Object.getOwnPropertyDescriptor(v, 'cause');
      return cause && 'value' in cause ? visit(cause.value, `${path}.cause`, depth + 1) : undefined;
    }
    const array = Array.isArray(v);
    for (const key of Object.keys(v)) {
      let x: unknown;
      try {
        x = (v as Record<string, unknown>)[key];
      } catch (thrown) {
        return { clause: `reading ${path}${segment(key, array)} threw ${describe(thrown)}`, cause: thrown };
      }
      const found = visit(x, `${path}${segment(key, array)}`, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  try {
    return visit(value, root, 1);
  } catch {
    // a walk that throws (a Map whose entries were tampered with) leaves v8's error to explain
    return undefined;
  }
}

/** Why v8 refused a value, when no part of it could be blamed: its error, bounded. */
export function unexplained(err: unknown): string {
  const message = messageOf(err);
  return message.endsWith('could not be cloned.')
    ? `it cannot be cloned: ${truncate(message, RENDER_CHARS)}`
    : `serializing it threw ${describe(err)}`;
}
