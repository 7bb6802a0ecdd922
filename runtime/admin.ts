// The admin HTTP server (`SkeinConfig.admin`): `/metrics` in the Prometheus text format and
// `/healthz`; the dashboard will be served from here too. It listens on 127.0.0.1 unless told
// otherwise; on any other address it needs a token (common/options.ts refuses one without), which every
// request must carry as `Authorization: Bearer <token>`, compared in constant time.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../common/errors.ts';
import { errorField, type Logger } from '../common/logger.ts';

export interface AdminConfig {
  /** 0 picks a free port (see Skein.adminUrl) */
  port: number;
  /** default 127.0.0.1 */
  host?: string;
  /** required on any host but the loopback ones */
  token?: string;
}

export interface AdminRoutes {
  /** the Prometheus text */
  metrics(): Promise<string>;
}

/** Digests compare in constant time whatever the lengths. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class AdminServer {
  readonly #server: Server;
  readonly url: string;

  private constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
  }

  static async start(config: AdminConfig, routes: AdminRoutes, logger: Logger): Promise<AdminServer> {
    const host = config.host ?? '127.0.0.1';
    const expected = config.token === undefined ? null : digest(`Bearer ${config.token}`);
    const server = createServer((req, res) => {
      if (expected && !timingSafeEqual(digest(req.headers.authorization ?? ''), expected)) {
        return reply(res, 401, 'a token is needed: Authorization: Bearer <token>\n', { 'www-authenticate': 'Bearer' });
      }
      route(req, res, routes, logger).catch((err) => {
        // a throw here would be an unhandled rejection, which ends the host process
        logger.warn('skein: an admin request failed', { error: errorField(err) });
        if (!res.headersSent) reply(res, 500, 'internal error\n');
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
    return new AdminServer(server, url);
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

async function route(req: IncomingMessage, res: ServerResponse, routes: AdminRoutes, logger: Logger): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'GET only\n', { allow: 'GET, HEAD' });
  // the path alone: a request target that is no URL ('http://[') is a 404, not a throw
  const path = (req.url ?? '/').split('?')[0];
  try {
    if (path === '/metrics') {
      return reply(res, 200, await routes.metrics(), { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    }
    if (path === '/healthz') return reply(res, 200, 'ok\n');
    return reply(res, 404, 'not found: /metrics, /healthz\n');
  } catch (err) {
    // the details go to the log, not to whoever asked
    logger.warn('skein: an admin request failed', { path, error: errorField(err) });
    return reply(res, 503, 'unavailable: see the service log\n');
  }
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}
