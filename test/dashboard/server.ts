// The dashboard's server for its tests: an AdminServer with the API over a Skein (or a Client),
// as Skein.launch and `skein dashboard` wire it, with a stub page that only carries the CSRF
// value (the page itself is test/dashboard/browser.test.ts's), and plain HTTP calls to it.
import type { ExecutionContext } from 'ava';
import { request } from 'node:http';
import { AdminServer, type AdminConfig } from '../../runtime/admin.ts';
import type { CommonApi } from '../../runtime/common-api.ts';
import type { QueueConfig } from '../../runtime/config.ts';
import { DashboardApi } from '../../runtime/dashboard/api.ts';
import { createPool } from '../../storage/database.ts';
import { testDatabase } from '../support/helpers.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export interface Served {
  server: AdminServer;
  url: string;
  csrf: string;
}

export async function serve(
  t: ExecutionContext,
  api: CommonApi,
  opts: { admin?: Partial<AdminConfig>; queues?: QueueConfig[]; metrics?: () => Promise<unknown> } = {},
): Promise<Served> {
  const pool = createPool(await testDatabase(), 2, () => {});
  const dashboard = new DashboardApi({ api, pool, schema: 'skein', queues: opts.queues, metrics: opts.metrics });
  const page = async (path: string, csrf: string) =>
    path === '/' ? { status: 200, body: `<meta name="skein-csrf" content="${csrf}">`, type: 'text/html; charset=utf-8' } : null;
  const server = await AdminServer.start({ port: 0, ...opts.admin }, { api: dashboard, page }, quiet);
  t.teardown(async () => {
    await server.close();
    await pool.end();
  });
  return { server, url: server.url, csrf: server.csrf };
}

export interface Answer<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: T;
}

/**
 * One HTTP request through node:http (fetch would not let a test set Host, nor send a bad
 * Origin): `path` as given, so encoded IDs reach the server as a browser sends them.
 */
export function call<T = any>(
  url: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | object } = {},
): Promise<Answer<T>> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(typeof opts.body === 'object' ? { 'content-type': 'application/json' } : {}), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: opts.method ?? 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A POST the page would send: with the CSRF header. */
export function post<T = any>(s: Served, path: string, body?: object): Promise<Answer<T>> {
  return call<T>(s.url, path, { method: 'POST', headers: { 'x-skein-csrf': s.csrf }, body });
}

export const enc = encodeURIComponent;
