// The admin HTTP server (`SkeinConfig.admin`, `skein dashboard`): `/metrics` in the Prometheus
// text format, `/healthz`, the dashboard's JSON API under `/api/` (runtime/dashboard/api.ts) and
// its page on every other GET (runtime/dashboard/assets.ts). It listens on 127.0.0.1 unless told
// otherwise; on any other address it needs a token (common/options.ts refuses one without).
// Who may ask what is runtime/dashboard/gate.ts: the token, the CSRF header of changes, the Host.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../common/errors.ts';
import { errorField, type Logger } from '../common/logger.ts';
import type { DashboardApi } from './dashboard/api.ts';
import { readJsonBody } from './dashboard/body.ts';
import { Gate, type Verdict } from './dashboard/gate.ts';
import { serveAsset } from './dashboard/assets.ts';

export interface AdminConfig {
  /** 0 picks a free port (see Skein.adminUrl) */
  port: number;
  /** default 127.0.0.1 */
  host?: string | undefined;
  /** required on any host but the loopback ones */
  token?: string | undefined;
}

/** A file of the page at `path` (null: not one of its files, a 404); `csrf` goes into its meta tag. */
export type ServePage = (
  path: string,
  csrf: string,
) => Promise<{ status: number; body: string | Buffer; type: string; headers?: Record<string, string> } | null>;

export interface AdminRoutes {
  /** the Prometheus text; absent where nothing runs workflows (`skein dashboard`): a 404 */
  metrics?(): Promise<string>;
  /** the JSON API under /api/ */
  api?: DashboardApi;
  /** the page, for every other GET; default runtime/dashboard/assets.ts */
  page?: ServePage;
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff' };

export class AdminServer {
  readonly #server: Server;
  readonly #gate: Gate;
  readonly url: string;

  private constructor(server: Server, gate: Gate, url: string) {
    this.#server = server;
    this.#gate = gate;
    this.url = url;
  }

  /** The value changes must carry in x-skein-csrf (the page has it in its meta tag). */
  get csrf(): string {
    return this.#gate.csrf;
  }

  static async start(config: AdminConfig, routes: AdminRoutes, logger: Logger): Promise<AdminServer> {
    const host = config.host ?? '127.0.0.1';
    const gate = new Gate(config.token);
    const server = createServer((req, res) => {
      route(req, res, routes, gate, logger).catch((err) => {
        // a throw here would be an unhandled rejection, which ends the host process
        logger.warn('skein: an admin request failed', { error: errorField(err) });
        if (!res.headersSent) reply(res, 500, 'internal error\n');
        else res.destroy();
      });
    });
    // a slow or idle client holds no socket for long
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new ConfigError(`admin server: cannot listen on ${host}:${config.port} (${err.code ?? err.message})`, { cause: err })),
      );
      server.listen(config.port, host, () => resolve());
    });
    server.on('error', (err) => logger.warn('skein: the admin server failed', { error: errorField(err) }));
    const { port } = server.address() as AddressInfo;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    logger.info('skein: admin server listening', { url });
    return new AdminServer(server, gate, url);
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

async function route(req: IncomingMessage, res: ServerResponse, routes: AdminRoutes, gate: Gate, logger: Logger): Promise<void> {
  // the path alone, as sent: a request target that is no URL ('http://[') is a 404, not a throw
  const target = req.url ?? '/';
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
  const isApi = path === '/api' || path.startsWith('/api/');
  const admitted = gate.admit(req, query.get('token'));
  if (!admitted.ok) return refuse(res, admitted, isApi);
  if (admitted.setCookie) res.setHeader('set-cookie', admitted.setCookie);
  if (isApi) return api(req, res, path, query, routes, gate, logger);
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'GET only\n', { allow: 'GET, HEAD' });
  try {
    if (path === '/metrics' && routes.metrics) {
      return reply(res, 200, await routes.metrics(), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    }
    if (path === '/healthz') return reply(res, 200, 'ok\n');
  } catch (err) {
    // the details go to the log, not to whoever asked
    logger.warn('skein: an admin request failed', { path, error: errorField(err) });
    return reply(res, 503, 'unavailable: see the service log\n');
  }
  const asset = await (routes.page ?? serveAsset)(path, gate.csrf);
  if (!asset) return reply(res, 404, 'not found: the dashboard is at /, its API under /api/, and /metrics, /healthz\n');
  // the page carries the CSRF value: only to whom may use the dashboard
  const host = gate.hostAllowed(req);
  if (!host.ok) return refuse(res, host, false);
  if (admitted.setCookie) {
    // the token leaves the address bar (and the history): the cookie carries it from now on
    query.delete('token');
    const rest = query.toString();
    return reply(res, 303, '', { location: `${path}${rest ? `?${rest}` : ''}` });
  }
  res.writeHead(asset.status, { 'cache-control': 'no-store', ...asset.headers, 'content-type': asset.type });
  res.end(asset.body);
}

async function api(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
  routes: AdminRoutes,
  gate: Gate,
  logger: Logger,
): Promise<void> {
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    reply(res, status, JSON.stringify(body), { ...JSON_HEADERS, ...headers });
  const host = gate.hostAllowed(req);
  if (!host.ok) return refuse(res, host, true);
  if (!['GET', 'HEAD', 'POST'].includes(req.method ?? '')) return json(405, { error: 'GET or POST only' }, { allow: 'GET, HEAD, POST' });
  if (req.method === 'POST') {
    const change = gate.allowChange(req);
    if (!change.ok) return refuse(res, change, true);
  }
  const body = await readJsonBody(req);
  // a body too large is left unread: the connection closes rather than drain it
  if (!body.ok) return json(body.status, { error: body.reason }, body.status === 413 ? { connection: 'close' } : {});
  let parts: string[];
  try {
    // each part decoded on its own: an ID holding '/' arrives as %2F and stays one part
    parts = path.slice('/api/'.length).split('/').map(decodeURIComponent);
  } catch {
    return json(400, { error: `the path ${JSON.stringify(path)} is not URL-encoded UTF-8` });
  }
  if (!routes.api) return json(404, { error: 'no API here' });
  try {
    const answer = await routes.api.handle({ method: req.method!, parts, query, body: body.value });
    return json(answer.status, answer.body);
  } catch (err) {
    logger.warn('skein: a dashboard API request failed', { path, error: errorField(err) });
    return json(500, { error: 'internal error: see the service log' });
  }
}

/** A refusal: as an ApiError under /api/, else as text. */
function refuse(res: ServerResponse, verdict: Extract<Verdict, { ok: false }>, isApi: boolean): void {
  const headers: Record<string, string> = verdict.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
  if (isApi) reply(res, verdict.status, JSON.stringify({ error: verdict.reason }), { ...JSON_HEADERS, ...headers });
  else reply(res, verdict.status, `${verdict.reason}\n`, headers);
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}
