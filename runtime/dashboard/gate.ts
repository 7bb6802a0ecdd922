// Who may use the admin server, checked before anything else is read or done.
// - The token (when the server has one): `Authorization: Bearer <token>`, or the cookie
//   `skein_token`, which the server sets when a GET carries `?token=<token>`, so a browser can
//   open `http://host:port/?token=...` once. Compared in constant time whatever the lengths.
// - Changes (POST): the header `x-skein-csrf` equal to this server's random value (the page
//   reads it from its meta tag; another site cannot), and an `Origin`, when sent, equal to the
//   server's own. The cookie is SameSite=Strict, so another site's request carries no token.
// - Without a token the server listens on a loopback address only (common/options.ts), and a
//   request must then also name a loopback host: a web page whose DNS name was re-pointed at
//   127.0.0.1 (DNS rebinding) is same-origin with the server in the browser's eyes and could
//   otherwise read the API; its requests carry its own name as `Host`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const TOKEN_COOKIE = 'skein_token';
export const CSRF_HEADER = 'x-skein-csrf';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Digests compare in constant time whatever the lengths. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function same(given: string | undefined, expected: Buffer): boolean {
  return given !== undefined && timingSafeEqual(digest(given), expected);
}

/** The value of cookie `name` in a Cookie header, if there is one. */
function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

export type Verdict =
  | { ok: true; /** a Set-Cookie header to send: the token came in the query */ setCookie?: string }
  | { ok: false; status: 401 | 403; reason: string };

export class Gate {
  readonly #token: Buffer | null;
  readonly #cookieValue: string | null;
  readonly #csrf: Buffer;
  /** the value of the page's meta tag, random per server */
  readonly csrf = randomBytes(24).toString('base64url');

  constructor(token: string | undefined) {
    this.#token = token === undefined ? null : digest(token);
    this.#cookieValue = token === undefined ? null : encodeURIComponent(token);
    this.#csrf = digest(this.csrf);
  }

  /** Whether `req` (whose `?token=`, if any, is `queryToken`) carries the token, when one is needed. */
  admit(req: IncomingMessage, queryToken: string | null): Verdict {
    if (!this.#token) return { ok: true };
    const bearer = /^Bearer (.*)$/.exec(req.headers.authorization ?? '')?.[1];
    if (same(bearer, this.#token) || same(cookie(req.headers.cookie, TOKEN_COOKIE), this.#token)) return { ok: true };
    if (queryToken !== null && req.method === 'GET' && same(queryToken, this.#token)) {
      return { ok: true, setCookie: `${TOKEN_COOKIE}=${this.#cookieValue}; HttpOnly; SameSite=Strict; Path=/` };
    }
    return { ok: false, status: 401, reason: 'a token is needed: Authorization: Bearer <token>, or open the page with ?token=<token>' };
  }

  /**
   * Whether the dashboard (its page and API) may answer `req`: without a token, only to a
   * loopback Host. (/metrics and /healthz hold no secret and change nothing: they answer any.)
   */
  hostAllowed(req: IncomingMessage): Verdict {
    if (this.#token) return { ok: true };
    const host = (req.headers.host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (LOOPBACK_HOSTS.has(host)) return { ok: true };
    return { ok: false, status: 403, reason: `a server without a token answers only requests to a loopback host (Host: ${host || 'none'})` };
  }

  /** Whether a change may go ahead: the CSRF header, and no foreign Origin. */
  allowChange(req: IncomingMessage): Verdict {
    const origin = req.headers.origin;
    const host = req.headers.host ?? '';
    // https too: behind a proxy that ends TLS, the page's origin is https on the same host
    if (origin !== undefined && origin !== `http://${host}` && origin !== `https://${host}`) {
      return { ok: false, status: 403, reason: `a change from another origin (${origin}) is refused` };
    }
    const header = req.headers[CSRF_HEADER];
    if (!same(typeof header === 'string' ? header : undefined, this.#csrf)) {
      return { ok: false, status: 403, reason: `a change needs the header ${CSRF_HEADER} with the value of the page's skein-csrf meta tag` };
    }
    return { ok: true };
  }
}
