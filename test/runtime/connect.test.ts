// A database that cannot be used is one ConfigError at launch (and at Client.connect) naming
// databaseUrl, with the password hidden and the likely fix, instead of a hang or a bare driver
// error. Every attempt here would hang or throw a pg error without the check: t.timeout turns
// a hang into a failure.
import test, { type ExecutionContext } from 'ava';
import net from 'node:net';
import { Client, ConfigError, Skein, type SkeinConfig } from '../../runtime/index.ts';
import { createPool } from '../../storage/database.ts';
import { isTransient } from '../../storage/pg-errors.ts';
import { fixtures, unique } from '../support/helpers.ts';

const adminUrl = process.env.SKEIN_TEST_DATABASE_URL!;
const SECRET = 'hunter2-not-shown';

/** A server that accepts connections and never says a word, like a dead proxy. */
async function silentServer(t: ExecutionContext): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The test server's URL with one part changed. */
function variant(change: (url: URL) => void): string {
  const url = new URL(adminUrl);
  change(url);
  return url.href;
}

function launchOn(databaseUrl: string | undefined, config: Partial<SkeinConfig> = {}): Promise<Skein> {
  return Skein.launch({ workflows: fixtures, databaseUrl, threads: 1, executorId: unique('executor'), ...config });
}

/** Expects a ConfigError naming databaseUrl that shows neither `secret` nor anything of it. */
async function refused(t: ExecutionContext, attempt: Promise<unknown>, secret = SECRET): Promise<string> {
  const err = (await t.throwsAsync(attempt, { instanceOf: ConfigError }))!;
  t.regex(err.message, /databaseUrl/);
  t.false(err.message.includes(secret), err.message);
  t.false(String((err.cause as Error | undefined)?.message).includes(secret));
  return err.message;
}

test('a server that accepts and never answers: launch is a ConfigError after connectTimeoutMs', async (t) => {
  t.timeout(10_000);
  const port = await silentServer(t);
  const started = Date.now();
  const message = await refused(
    t,
    launchOn(`postgres://skein:${SECRET}@127.0.0.1:${port}/app`, { connectTimeoutMs: 500 }),
  );
  t.regex(message, /nothing answered within connectTimeoutMs=500 ms/);
  t.true(message.includes(`postgres://skein:***@127.0.0.1:${port}/app`), message);
  t.true(Date.now() - started < 8000);
});

test('a closed port: launch is a ConfigError asking whether Postgres runs there', async (t) => {
  t.timeout(10_000);
  const port = await closedPort();
  const message = await refused(t, launchOn(`postgres://skein:${SECRET}@127.0.0.1:${port}/app`));
  t.regex(message, new RegExp(`connection refused.*Is Postgres running on 127\\.0\\.0\\.1:${port}\\?`));
  t.regex(message, /omit databaseUrl to use the embedded Postgres/);
});

test('a wrong password: launch is a ConfigError about the user and password', async (t) => {
  t.timeout(10_000);
  const message = await refused(t, launchOn(variant((u) => (u.password = SECRET))));
  t.regex(message, /password authentication failed for user "postgres"/);
  t.regex(message, /check the user and password/);
});

test('a database that does not exist: launch is a ConfigError naming it and how to create it', async (t) => {
  t.timeout(10_000);
  const name = `skein_missing_${unique('db').slice(3)}`;
  const url = variant((u) => (u.pathname = `/${name}`));
  const secret = decodeURIComponent(new URL(adminUrl).password);
  const message = await refused(t, launchOn(url), secret);
  t.regex(message, new RegExp(`database "${name}" does not exist`));
  t.true(message.includes(`createdb ${name}`), message);
});

const malformed: [string, RegExp][] = [
  ['base', /no postgres:\/\/ scheme.*postgres:\/\/localhost\/base/],
  ['localhost/base', /no postgres:\/\/ scheme.*postgres:\/\/localhost\/base/],
  ['localhost:5432/base', /no postgres:\/\/ scheme.*postgres:\/\/localhost:5432\/base/],
  ['postgres:/base', /missing the \/\/ after postgres:/],
  ['mysql://localhost/base', /scheme is mysql:\/\//],
  [`skein:${SECRET}@localhost/base`, /no postgres:\/\/ scheme/],
  [`host=localhost password=${SECRET} dbname=base`, /key=value connection strings are not supported/],
  [' postgres://localhost/base', /spaces/],
  [`postgres://skein:${SECRET}@localhost:port/base`, /Invalid URL/],
];

for (const [url, why] of malformed) {
  test(`a malformed URL (${JSON.stringify(url.replace(SECRET, '…'))}) is a ConfigError with an example`, async (t) => {
    t.timeout(10_000);
    const message = await refused(t, launchOn(url));
    t.regex(message, /not a valid postgres:\/\/ URL/);
    t.regex(message, why);
    t.regex(message, /postgres:\/\/user:password@localhost:5432\/mydb/);
  });
}

test('a URL from SKEIN_DATABASE_URL is named as such', async (t) => {
  t.timeout(10_000);
  const port = await closedPort();
  const saved = process.env.SKEIN_DATABASE_URL;
  process.env.SKEIN_DATABASE_URL = `postgres://skein:${SECRET}@127.0.0.1:${port}/app`;
  try {
    const message = await refused(t, launchOn(undefined));
    t.regex(message, /databaseUrl \(from SKEIN_DATABASE_URL\)/);
    t.regex(message, /unset SKEIN_DATABASE_URL to use the embedded Postgres/);
  } finally {
    if (saved === undefined) delete process.env.SKEIN_DATABASE_URL;
    else process.env.SKEIN_DATABASE_URL = saved;
  }
});

test('connectTimeoutMs must be a positive integer: anything else is a ConfigError naming it', async (t) => {
  t.timeout(10_000);
  for (const connectTimeoutMs of [-1, 0, 1.5, 'x', Number.NaN, 2 ** 31]) {
    // 'unused' would be a driver error if the option were not checked first
    await t.throwsAsync(launchOn('postgres://unused', { connectTimeoutMs: connectTimeoutMs as number }), {
      instanceOf: ConfigError,
      message: /config\.connectTimeoutMs/,
    });
    await t.throwsAsync(Client.connect({ databaseUrl: 'postgres://unused', connectTimeoutMs: connectTimeoutMs as number }), {
      instanceOf: ConfigError,
      message: /config\.connectTimeoutMs/,
    });
  }
});

test('Client.connect: a silent server is a ConfigError after connectTimeoutMs', async (t) => {
  t.timeout(10_000);
  const port = await silentServer(t);
  const message = await refused(
    t,
    Client.connect({ databaseUrl: `postgres://skein:${SECRET}@127.0.0.1:${port}/app`, connectTimeoutMs: 500 }),
  );
  t.regex(message, /nothing answered within connectTimeoutMs=500 ms/);
});

test('Client.connect: a closed port, a wrong password and a malformed URL are ConfigErrors', async (t) => {
  t.timeout(10_000);
  const port = await closedPort();
  const closed = await refused(t, Client.connect({ databaseUrl: `postgres://skein:${SECRET}@127.0.0.1:${port}/app` }));
  t.regex(closed, /Is Postgres running on/);
  t.notRegex(closed, /embedded/, 'a Client has no embedded Postgres to fall back to');
  t.regex(await refused(t, Client.connect({ databaseUrl: variant((u) => (u.password = SECRET)) })), /password/);
  t.regex(await refused(t, Client.connect({ databaseUrl: 'base' })), /not a valid postgres:\/\/ URL/);
});

test('a pooled connection to a silent server fails after the timeout, as a transient error', async (t) => {
  t.timeout(10_000);
  const port = await silentServer(t);
  const pool = createPool(`postgres://skein@127.0.0.1:${port}/app`, 1, () => {}, { connectTimeoutMs: 300 });
  t.teardown(() => void pool.end()); // not awaited: without the timeout its connect never ends
  const err = await t.throwsAsync(pool.query('SELECT 1'));
  t.true(isTransient(err), String(err));
});

test('a query waiting for a busy pool is not cut short by the connect timeout', async (t) => {
  // The timeout is for reaching the server; a checkout queued behind busy connections under
  // load is not a connection failure (pg's pool-level connectionTimeoutMillis would fail it).
  t.timeout(10_000);
  const pool = createPool(adminUrl, 1, () => {}, { connectTimeoutMs: 1500 });
  t.teardown(() => pool.end());
  const held = await pool.connect();
  const queued = pool.query('SELECT 1 AS one');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  held.release();
  t.deepEqual((await queued).rows, [{ one: 1 }]);
});
