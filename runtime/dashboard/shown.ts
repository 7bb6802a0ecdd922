// Payloads as the dashboard shows them: decoded (common/codec.ts) and printed with util.inspect
// on the admin server, which runs on the service's main thread. Decoding is synchronous, so each
// response gets a budget of bytes it may decode; a payload above MAX_DECODE_BYTES, or past the
// budget, is shown by its size alone. The text is cut at MAX_TEXT_CHARS either way: the page
// shows it as text, and a 20,000-character blob is already more than anyone reads.
import { inspect } from 'node:util';
import { decodeError, decodeValue } from '../../common/codec.ts';
import type { SizedPayload } from '../../storage/inspect.ts';
import type { Shown } from './contract.ts';

/** Payloads above this are not decoded (storage/inspect.ts does not even fetch them). */
export const MAX_DECODE_BYTES = 1 << 20;
/** What one response decodes at most, all its payloads together. */
export const RESPONSE_DECODE_BYTES = 8 << 20;
export const MAX_TEXT_CHARS = 20_000;

// inspect's own limits keep a huge array or deep object from producing megabytes first and
// being cut after; customInspect off, though decoded values are plain data anyway
const INSPECT = {
  depth: 6,
  maxArrayLength: 200,
  maxStringLength: MAX_TEXT_CHARS,
  breakLength: 100,
  compact: 3,
  customInspect: false,
  getters: false,
} as const;

/** `text` cut to `max` characters, never inside a surrogate pair. */
export function cut(text: string, max = MAX_TEXT_CHARS): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  const end = /[\ud800-\udbff]/.test(text[max - 1]!) ? max - 1 : max;
  return { text: text.slice(0, end), truncated: true };
}

/** Decodes payloads for one response, within its byte budget. */
export class Shower {
  #budget: number;

  constructor(budget = RESPONSE_DECODE_BYTES) {
    this.#budget = budget;
  }

  /** The bytes of `p` when they may be decoded now (counted against the budget), else null. */
  #take(p: SizedPayload): Buffer | null {
    if (p.bytes === null || p.size === null || p.size > MAX_DECODE_BYTES || p.size > this.#budget) return null;
    this.#budget -= p.size;
    return p.bytes;
  }

  value(p: SizedPayload): Shown | null {
    if (p.size === null) return null;
    const bytes = this.#take(p);
    if (!bytes) return { text: `(${p.size} bytes)`, truncated: true, bytes: p.size };
    let text: string;
    try {
      text = inspect(decodeValue(bytes), INSPECT);
    } catch (err) {
      text = `(unreadable: ${(err as Error).message})`;
    }
    return { ...cut(text), bytes: p.size };
  }

  error(p: SizedPayload): { name: string; message: string; stack: string | null } | null {
    if (p.size === null) return null;
    const bytes = this.#take(p);
    if (!bytes) return { name: 'Error', message: `(an error of ${p.size} bytes, too large to show)`, stack: null };
    let err: unknown;
    try {
      err = decodeError(bytes);
    } catch (e) {
      return { name: 'Error', message: `(unreadable: ${(e as Error).message})`, stack: null };
    }
    if (!(err instanceof Error)) return { name: 'thrown value', message: cut(inspect(err, INSPECT)).text, stack: null };
    return {
      name: cut(String(err.name), 200).text,
      message: cut(String(err.message)).text,
      stack: typeof err.stack === 'string' ? cut(err.stack).text : null,
    };
  }
}
