// The body of an admin API request: JSON only, and small (the API's bodies are a few fields), so
// a client cannot make the service's main thread buffer or parse much.
import type { IncomingMessage } from 'node:http';

export const MAX_BODY_BYTES = 64 * 1024;

export type Body = { ok: true; value: unknown } | { ok: false; status: 400 | 413 | 415; reason: string };

/** The parsed JSON body; `undefined` when there is none. Stops reading past MAX_BODY_BYTES. */
export async function readJsonBody(req: IncomingMessage): Promise<Body> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return TOO_LARGE;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return TOO_LARGE;
    chunks.push(chunk);
  }
  if (size === 0) return { ok: true, value: undefined };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return { ok: false, status: 415, reason: 'a body must be JSON (Content-Type: application/json)' };
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (err) {
    return { ok: false, status: 400, reason: `the body is not JSON: ${(err as Error).message}` };
  }
}

/** The rest is not read: the answer closes the connection (admin.ts). */
const TOO_LARGE: Body = { ok: false, status: 413, reason: `a body may hold at most ${MAX_BODY_BYTES} bytes` };
