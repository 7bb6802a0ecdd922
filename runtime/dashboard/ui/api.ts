// The page's calls to the JSON API (../contract.ts). URLs are relative to the page, so the
// dashboard also works behind a proxy under a sub-path. Every POST carries the csrf token the
// server put in the page's meta tag; without it the server refuses the change.
import type { ActionResult, ApiError } from '../contract.ts';

const csrf = document.querySelector<HTMLMetaElement>('meta[name="skein-csrf"]')?.content ?? '';

/** A refused or failed call, with the server's reason. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function read<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // a proxy's HTML error page, say: its status tells enough
  }
  if (!res.ok) {
    const reason = (body as ApiError | null)?.error;
    throw new ApiFailure(res.status, typeof reason === 'string' ? reason : `${res.status} ${res.statusText}`);
  }
  return body as T;
}

/** GET api/<path>; `query` entries that are empty are left out. */
export async function get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return read<T>(await fetch(`api/${path}${qs ? `?${qs}` : ''}`, { headers: { accept: 'application/json' } }));
}

/** POST api/<path>: an action (cancel, fork, pause...). */
export async function post(path: string, body: unknown = {}): Promise<ActionResult> {
  const res = await fetch(`api/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', 'x-skein-csrf': csrf },
    body: JSON.stringify(body),
  });
  return read<ActionResult>(res);
}

/** A path segment for an ID, which may hold any character. */
export const seg = encodeURIComponent;
