// Shared test helpers: a database per test file on the server `npm test` started, a Skein
// launched on it with teardown, and direct SQL for assertions.
import type { ExecutionContext } from 'ava';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Skein, type SkeinConfig } from '../../runtime/index.ts';
import { createPool } from '../../storage/database.ts';
import { migrate } from '../../storage/migrate.ts';

const adminUrl = process.env.SKEIN_TEST_DATABASE_URL;
if (!adminUrl) {
  throw new Error('SKEIN_TEST_DATABASE_URL is not set: run the tests with `npm test`');
}

export const fixtures = new URL('../fixtures/workflows.ts', import.meta.url);

/** Creates a fresh database and returns its URL. Fixture steps read it from the environment. */
export async function createTestDatabase(): Promise<string> {
  const name = `skein_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl!);
  url.pathname = `/${name}`;
  // created here, once, because concurrent CREATE TABLE IF NOT EXISTS from threads can collide
  const db = new pg.Client({ connectionString: url.href });
  await db.connect();
  await db.query('CREATE TABLE test_counters (key text PRIMARY KEY, n integer NOT NULL)');
  await db.end();
  return url.href;
}

let fileDatabase: Promise<string> | undefined;

/**
 * The database of this test file (one per process: ava runs each file in its own process).
 * Exported to SKEIN_TEST_DB so fixture steps on worker threads can reach it (counters.ts).
 */
export function testDatabase(): Promise<string> {
  fileDatabase ??= createTestDatabase().then((url) => {
    process.env.SKEIN_TEST_DB = url;
    return url;
  });
  return fileDatabase;
}

/** Launches a Skein on this file's database, shut down when the test ends. */
export async function launch(
  t: ExecutionContext,
  config: Partial<SkeinConfig> = {},
): Promise<Skein> {
  const skein = await Skein.launch({
    workflows: fixtures,
    databaseUrl: await testDatabase(),
    threads: 2,
    // tests of one file run concurrently, each with its own Skein: distinct executors keep
    // one's launch recovery from taking over another's running workflows
    executorId: unique('executor'),
    // nor take over the work another test's Skein left at its shutdown (test/many/ tests takeover)
    takeover: false,
    ...config,
  });
  t.teardown(() => skein.shutdown({ timeoutMs: 2000 }));
  return skein;
}

/**
 * This file's database with skein's tables already made (its URL): for tests whose first
 * Skein launches in a child process, or that read skein's tables before anything launched.
 */
export async function migrated(): Promise<string> {
  const url = await testDatabase();
  const pool = createPool(url, 1, () => {});
  try {
    await migrate(pool, 'skein');
  } finally {
    await pool.end();
  }
  return url;
}

/** Runs one query on this file's database. */
export async function sql<R extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<R[]> {
  return sqlAt(await testDatabase(), text, values);
}

/** Runs one query on the database at `url`. */
export async function sqlAt<R extends pg.QueryResultRow = any>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** A unique string, for workflow IDs and counter keys that must not collide across tests. */
export function unique(prefix = 'wf'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/**
 * Polls `condition` until it holds; fails after `timeoutMs`, saying `what` it waited for (a
 * function is read when it fails, to tell what was seen meanwhile). Use it instead of a fixed
 * sleep wherever a test waits for something to happen: a sleep long enough on an idle machine
 * is too short on a loaded one.
 */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error(`${typeof what === 'function' ? what() : what} not met within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Waits until `read()` has kept one value for `quietMs`: for "the work that was under way has
 * finished" (e.g. the first checks of workflows just parked) when there is no signal of it but
 * a counter that stops moving. Fails after `timeoutMs` if it never settles.
 */
export async function settled<T>(read: () => T, quietMs: number, timeoutMs = 30_000, what = 'a settled value'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 10));
    const now = read();
    if (now !== value) {
      value = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return value;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
  }
}

/**
 * `promise`, or a failure saying `what` did not happen within `timeoutMs`: for waits that a
 * broken implementation would leave pending for good, so the test fails saying what it waited
 * for instead of at ava's timeout.
 */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Starts a fixture script in a child process (under tsx) with the test database's env. */
export function spawnFixture(script: string, args: string[]): ChildProcess {
  return fork(new URL(`../fixtures/${script}`, import.meta.url), args, {
    execArgv: ['--import=tsx'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
}

/**
 * The next IPC message of a fixture started by spawnFixture, which sends one (process.send) when
 * it reached the point the test waits for: the handshake that replaces sleeping "long enough"
 * for a child to start. Fails, rather than hangs, if the child exits first or says nothing
 * within `timeoutMs` (generous: a cold child under tsx takes seconds on a loaded machine).
 */
export function messageFrom<T = unknown>(child: ChildProcess, what: string, timeoutMs = 60_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const gone = () => `${child.signalCode ?? `code ${child.exitCode}`}`;
    if (child.exitCode !== null || child.signalCode !== null) {
      return reject(new Error(`the child had exited (${gone()}) before it said ${what}`));
    }
    const settle = (fn: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      fn();
    };
    const onMessage = (message: T) => settle(() => resolve(message));
    const onExit = () => settle(() => reject(new Error(`the child exited (${gone()}) before it said ${what}`)));
    const timer = setTimeout(
      () => settle(() => reject(new Error(`the child did not say ${what} within ${timeoutMs} ms`))),
      timeoutMs,
    );
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Collects a child's stdout and resolves with it when the child exits. */
export function stdoutOf(child: ChildProcess): Promise<string> {
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  return new Promise((resolve) => child.on('exit', () => resolve(out)));
}
