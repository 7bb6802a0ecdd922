// Bounded descriptions of anything thrown or refused, which never throw: any property read may
// be a getter that throws, and the value may be a Proxy. Used by the codec on both sides of the
// thread boundary.
import { types } from 'node:util';

/** Longest message and stack kept of an error that could not be stored. */
export const DESCRIPTION_CHARS = 1000;

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length} characters)`;
}

/** `obj[key]`, or `fallback` if reading it throws. */
export function safeGet(obj: object, key: PropertyKey, fallback: unknown = undefined): unknown {
  try {
    return (obj as Record<PropertyKey, unknown>)[key];
  } catch {
    return fallback;
  }
}

/** The name of the class of `v`, found through its prototypes' own descriptors (no getters). */
export function safeClassName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v !== 'object' && typeof v !== 'function') return typeof v;
  try {
    let proto = Object.getPrototypeOf(v);
    if (proto === null) return 'null-prototype object';
    for (; proto !== null; proto = Object.getPrototypeOf(proto)) {
      const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
      const name = typeof ctor === 'function' ? Object.getOwnPropertyDescriptor(ctor, 'name')?.value : undefined;
      if (typeof name === 'string' && name !== '') {
        return types.isProxy(v) ? `Proxy of ${truncate(name, 100)}` : truncate(name, 100);
      }
    }
  } catch {
    // a Proxy whose getPrototypeOf trap throws, or a revoked one
  }
  return types.isProxy(v) ? 'Proxy' : 'object';
}

export function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return `[${safeClassName(v)}]`;
  }
}

/**
 * What is stored in place of an error's property that cannot be: a bounded rendering, and for
 * a function only its name (its source could be long, and is nobody's business).
 */
export function standIn(v: unknown): string {
  if (typeof v === 'function') return `[function ${truncate(safeString(safeGet(v, 'name', '')), DESCRIPTION_CHARS) || '(anonymous)'}]`;
  return truncate(safeString(v), DESCRIPTION_CHARS);
}

/** The message of an error, else its description; bounded, never throws. */
export function messageOf(v: unknown): string {
  const message = typeof v === 'object' && v !== null ? safeGet(v, 'message') : undefined;
  return typeof message === 'string' ? truncate(message, DESCRIPTION_CHARS) : describe(v);
}

/** "Class: message" of anything thrown, bounded; never throws. */
export function describe(v: unknown): string {
  if (typeof v === 'string') return truncate(v, DESCRIPTION_CHARS);
  if (typeof v !== 'object' || v === null) return truncate(safeString(v), DESCRIPTION_CHARS);
  const message = safeGet(v, 'message');
  const cls = safeClassName(v);
  return typeof message === 'string' ? `${cls}: ${truncate(message, DESCRIPTION_CHARS)}` : cls;
}

export function isObject(v: unknown): v is object {
  return (typeof v === 'object' || typeof v === 'function') && v !== null;
}

/** An error's name (else its class) and message, bounded, for traces; never throws. */
export function failureOf(v: unknown): { type: string; message: string } {
  const name = isObject(v) ? safeGet(v, 'name') : undefined;
  return {
    // a subclass that left `name` as Error still says what it is
    type: typeof name === 'string' && name && name !== 'Error' ? truncate(name, 200) : safeClassName(v),
    message: messageOf(v),
  };
}
