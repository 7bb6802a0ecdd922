// The first contact with a database given by URL: one connection and `SELECT 1` within
// connectTimeoutMs, so a wrong URL is one ConfigError that names databaseUrl (password hidden)
// and says what to fix, instead of a launch that hangs on a silent server or a bare driver
// error from deep inside migrate ("getaddrinfo ENOTFOUND base").
import pg from 'pg';
import { ConfigError } from '../common/errors.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../common/options.ts';

const EXAMPLE = 'postgres://user:password@localhost:5432/mydb';

export interface ConnectCheck {
  /** what the caller passed as databaseUrl; undefined when the URL came from the environment */
  given: string | undefined;
  timeoutMs: number;
  /** launch falls back to the embedded Postgres when no URL is set; a Client cannot */
  embeddedFallback: boolean;
}

/**
 * `url` with its password replaced by `***`: the one of the user info (between its first ':'
 * and the last '@', so an unescaped '@' or '/' in it is still hidden) and a `password=`
 * parameter. Works on malformed input too, which is when it is shown.
 */
export function redactUrl(url: string): string {
  const slashes = url.indexOf('//');
  const start = slashes >= 0 ? slashes + 2 : 0;
  const at = url.lastIndexOf('@');
  const colon = url.indexOf(':', start);
  const hidden = at > start && colon >= 0 && colon < at ? `${url.slice(0, colon)}:***${url.slice(at)}` : url;
  return hidden.replace(/(password=)[^&\s]*/gi, '$1***');
}

/** How messages name the URL: the option, and the variable it was read from if not given. */
function labelOf(url: string, check: ConnectCheck): { label: string; fallback: string } {
  if (check.given !== undefined) {
    return { label: 'config.databaseUrl', fallback: 'omit databaseUrl to use the embedded Postgres' };
  }
  const variable = process.env.SKEIN_DATABASE_URL === url ? 'SKEIN_DATABASE_URL' : 'DATABASE_URL';
  return { label: `databaseUrl (from ${variable})`, fallback: `unset ${variable} to use the embedded Postgres` };
}

/**
 * Why `url` is not a URL pg reads as meant, or undefined. pg resolves anything without a
 * scheme against `postgres://base`, so a bare `mydb` or `localhost/mydb` would otherwise
 * become the host "base" and fail as "getaddrinfo ENOTFOUND base".
 */
export function shapeProblem(url: string, shown: string): string | undefined {
  if (typeof url !== 'string') return 'it is not a string';
  if (url !== url.trim()) return 'it starts or ends with spaces';
  // pg's forms for a Unix-socket directory
  if (url.startsWith('/') || /^socket:/i.test(url)) return undefined;
  if (/^postgres(ql)?:\/\//i.test(url)) return undefined;
  if (/^postgres(ql)?:/i.test(url)) return 'it is missing the // after postgres:';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme) return `its scheme is ${scheme}://, not postgres://`;
  if (/^\S+=/.test(url) && /\s/.test(url)) return 'key=value connection strings are not supported';
  const suggestion = /[/:@]/.test(url) ? `postgres://${shown}` : `postgres://localhost/${shown}`;
  return `it has no postgres:// scheme (did you mean ${suggestion}?)`;
}

/** Connects once to `url` and runs `SELECT 1`; any failure is a ConfigError saying what to fix. */
export async function checkDatabase(url: string, check: ConnectCheck): Promise<void> {
  const { label, fallback } = labelOf(url, check);
  const shown = typeof url === 'string' ? redactUrl(url) : String(url); // a Client's is unchecked
  const invalid = (why: string) =>
    new ConfigError(`${label} is not a valid postgres:// URL: ${why}; got ${JSON.stringify(shown)}, expected e.g. ${EXAMPLE}`);
  const problem = shapeProblem(url, shown);
  if (problem) throw invalid(problem);
  let client: pg.Client;
  try {
    client = new pg.Client({ connectionString: url, application_name: 'skein' });
  } catch (err) {
    // no cause: the parser's TypeError carries the raw URL, password included, as `input`
    throw invalid((err as Error).message);
  }
  client.on('error', () => {}); // a failure mid-query rejects the query; unhandled it is fatal
  let timedOut = false;
  // one deadline for everything, startup and authentication included
  const timer = setTimeout(() => {
    timedOut = true;
    client.connection.stream.destroy();
  }, check.timeoutMs);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    const at = `cannot connect to the database at ${label} (${shown})`;
    const why = timedOut
      ? `nothing answered within connectTimeoutMs=${check.timeoutMs} ms. Is ${client.host}:${client.port} ` +
        'a Postgres server reachable from here? (raise connectTimeoutMs if it is only slow)'
      : explain(err as Error & { code?: string }, client, check.embeddedFallback ? fallback : undefined);
    throw new ConfigError(`${at}: ${why}`, { cause: err });
  } finally {
    clearTimeout(timer);
    client.end().catch(() => {});
  }
}

/** The likely fix for a failure to connect, by its code. */
function explain(err: Error & { code?: string }, client: pg.Client, fallback: string | undefined): string {
  const { host, port, database } = client;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `connection refused. Is Postgres running on ${host}:${port}?${fallback ? ` (${fallback})` : ''}`;
    case 'ENOENT': // a Unix socket that is not there
      return `no Postgres socket at ${host}/.s.PGSQL.${port}. Is Postgres running?${fallback ? ` (${fallback})` : ''}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host "${host}" not found. Check the host name; a URL looks like ${EXAMPLE} (characters such as @ : / # ? in the password must be percent-encoded)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
      return `host ${host} is unreachable from here (${err.code})`;
    case '28P01': // invalid_password
      return `${err.message}: check the user and password in databaseUrl`;
    case '28000': // invalid_authorization_specification: no such role, or pg_hba.conf refuses
      return `${err.message}: check the user name in databaseUrl and the server's pg_hba.conf`;
    case '3D000': // invalid_catalog_name
      return `database "${database}" does not exist: create it (createdb ${database}, or CREATE DATABASE "${database}") or name an existing one in databaseUrl`;
    default:
      return err.message || String(err.code ?? err);
  }
}
