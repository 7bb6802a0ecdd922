import test, { type ExecutionContext } from 'ava';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Skein } from '../../runtime/index.ts';
import { startEmbeddedPostgres } from '../../storage/embedded.ts';
import { silentLogger } from '../../common/logger.ts';
import * as wf from '../fixtures/workflows.ts';
import { fixtures, within } from '../support/helpers.ts';

interface Report {
  url: string;
  owned: boolean;
  pgdata: string;
}

// under the directory `npm test` sweeps when it ends
const root = mkdtempSync(join(process.env.SKEIN_TEST_SERVERS_DIR ?? tmpdir(), 'skein-orphans-'));
chmodSync(root, 0o755);
test.after.always(() => rmSync(root, { recursive: true, force: true }));

// initdb takes seconds of CPU: done once, and each test gets a copy (cp -a keeps the files'
// owner, the `postgres` OS user when running as root)
let template: Promise<string> | undefined;

/** A data directory of its own for a test, its server stopped. */
async function dataDir(): Promise<string> {
  template ??= (async () => {
    const dir = join(root, 'template');
    await (await startEmbeddedPostgres(dir, { logger: silentLogger })).stop();
    return dir;
  })();
  const parent = mkdtempSync(join(root, 'test-'));
  chmodSync(parent, 0o755); // else, as root, the data would move to where `postgres` can reach it
  execFileSync('cp', ['-a', await template, join(parent, 'db')]);
  return join(parent, 'db');
}

/** The processes of the Postgres serving `pgdata`: the postmaster (its -D) and every backend (its cwd). */
function serverProcesses(pgdata: string): number[] {
  const target = existsSync(pgdata) ? realpathSync(pgdata) : pgdata;
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const cwd = readlinkSync(`/proc/${name}/cwd`).replace(/ \(deleted\)$/, '');
      if (cmdline.includes(pgdata) || cwd === target) pids.push(Number(name));
    } catch {
      // gone meanwhile, or a zombie (no cwd, empty cmdline): not serving anything
    }
  }
  return pids;
}

async function noServerWithin(pgdata: string, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = serverProcesses(pgdata);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The fixture's JSON lines on stdout, as they come. */
function reports(child: ChildProcess): AsyncGenerator<Record<string, unknown>> {
  let buffered = '';
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  child.stdout!.on('data', (chunk) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    lines.push(...parts.filter((l) => l.startsWith('{')));
    wake?.();
  });
  child.stdout!.on('end', () => ((ended = true), wake?.()));
  return (async function* () {
    for (;;) {
      if (lines.length) yield JSON.parse(lines.shift()!);
      else if (ended) return;
      else await new Promise<void>((r) => (wake = r));
    }
  })();
}

/** Starts the fixture on `dir` and waits for its server to be up. */
async function launcher(t: ExecutionContext, dir: string, then: string) {
  const fixture = fileURLToPath(new URL('../fixtures/child-embedded.ts', import.meta.url));
  // stderr kept, not shown: one of them dies of an unhandled rejection on purpose
  const child = spawn(process.execPath, ['--import=tsx', fixture, dir, then], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const lines = reports(child);
  const { value } = await within(lines.next(), 120_000, 'the launcher reporting its server up');
  if (!value) throw new Error(`the launcher exited before its server was up:\n${stderr}`);
  return { child, exited, lines, report: value as unknown as Report };
}

async function query(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one;
  } finally {
    await client.end();
  }
}

test('a server left by a SIGKILLed launcher is adopted by the next launch, whose stop leaves no postgres process', async (t) => {
  const dir = await dataDir();
  const { child, exited, report } = await launcher(t, dir, 'wait');
  t.true(report.owned);
  child.kill('SIGKILL');
  await exited;
  t.not(serverProcesses(report.pgdata).length, 0, 'SIGKILL gives no chance to stop the server');

  const next = await startEmbeddedPostgres(dir, { logger: silentLogger });
  t.true(next.owned, 'its launcher is dead: the next launch owns it');
  t.is(next.url, report.url, 'the same server, not a new one');
  t.is(await query(next.url), 1);
  await next.stop();
  t.deepEqual(serverProcesses(report.pgdata), []);
});

test("Skein.launch on the data of a SIGKILLed launcher: the Skein's shutdown leaves no postgres process", async (t) => {
  const dir = await dataDir();
  const { child, exited, report } = await launcher(t, dir, 'wait');
  child.kill('SIGKILL');
  await exited;
  // this file's process only: ava runs each test file in a process of its own
  delete process.env.SKEIN_DATABASE_URL;
  delete process.env.DATABASE_URL;
  const skein = await Skein.launch({ workflows: fixtures, dataDir: dir, threads: 1 });
  t.is(skein.databaseUrl, report.url, 'the server the dead launcher left');
  t.is(await (await skein.start(wf.echo, 'on it')).result(), 'on it');
  await skein.shutdown();
  t.deepEqual(serverProcesses(report.pgdata), []);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} to a launcher with no handler of its own: it dies of ${signal}, and its server is gone`, async (t) => {
    const { child, exited, report } = await launcher(t, await dataDir(), 'wait');
    child.kill(signal);
    const [code, killedBy] = await exited;
    t.deepEqual([code, killedBy], [null, signal], 'the signal still ends the process as it would have');
    t.deepEqual(await noServerWithin(report.pgdata, 10_000), []);
  });
}

test('a launcher dying of an unhandled rejection leaves no server', async (t) => {
  const { exited, report } = await launcher(t, await dataDir(), 'reject');
  const [code] = await exited;
  t.is(code, 1);
  t.deepEqual(await noServerWithin(report.pgdata, 10_000), []);
});

test("the application's own SIGTERM handler runs with the server up, and the server goes when it exits", async (t) => {
  const { child, exited, lines, report } = await launcher(t, await dataDir(), 'handler');
  child.kill('SIGTERM');
  t.deepEqual((await lines.next()).value, { handled: 1 }, 'not swallowed, and the server still served it');
  const [code] = await exited;
  t.is(code, 0);
  t.deepEqual(await noServerWithin(report.pgdata, 10_000), []);
});

test('a launch while the launcher lives joins without owning; the server goes with the launcher', async (t) => {
  const dir = await dataDir();
  const { child, exited, report } = await launcher(t, dir, 'wait');
  const joined = await startEmbeddedPostgres(dir, { logger: silentLogger });
  t.false(joined.owned);
  await joined.stop();
  t.is(await query(report.url), 1, "a joiner's stop leaves the server to its owner");
  child.kill('SIGTERM');
  await exited;
  t.deepEqual(await noServerWithin(report.pgdata, 10_000), []);
});

test('an owner that stops while another process is connected hands the server over; the last one out stops it', async (t) => {
  const dir = await dataDir();
  const owner = await startEmbeddedPostgres(dir, { logger: silentLogger });
  const joined = await startEmbeddedPostgres(dir, { logger: silentLogger });
  t.true(owner.owned);
  t.false(joined.owned);
  const pgdata = join(owner.dataDir, 'pgdata');
  // the joiner in use (an app beside a CLI command that started the server)
  const session = new pg.Client({ connectionString: joined.url });
  await session.connect();
  await owner.stop();
  t.is((await session.query('SELECT 1 AS one')).rows[0].one, 1, 'the owner left it up for the connected process');
  t.true(serverProcesses(pgdata).length > 0);
  await session.end();
  await joined.stop();
  t.deepEqual(await noServerWithin(pgdata, 10_000), [], 'the last one out stopped it');
});

test('stop({ force }) stops an owned server even with others connected', async (t) => {
  const dir = await dataDir();
  const owner = await startEmbeddedPostgres(dir, { logger: silentLogger });
  const session = new pg.Client({ connectionString: owner.url });
  session.on('error', () => {});
  await session.connect();
  await owner.stop({ force: true });
  t.deepEqual(await noServerWithin(join(owner.dataDir, 'pgdata'), 10_000), []);
  await session.end().catch(() => {});
});

test('the test wrapper stops a server that a killed test process left behind', async (t) => {
  const wrapper = fileURLToPath(new URL('../support/with-postgres.ts', import.meta.url));
  const fixture = fileURLToPath(new URL('../fixtures/child-embedded.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import=tsx', wrapper, process.execPath, '--import=tsx', fixture, '-', 'kill'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  const exited = once(child, 'exit');
  const { value } = await within(reports(child).next(), 120_000, "the fixture reporting its server up");
  await exited;
  t.truthy(value, "the fixture's server came up");
  const { pgdata } = value as unknown as Report;
  t.deepEqual(serverProcesses(pgdata), [], 'swept when the wrapper ended');
});

// serial (ava runs these first, alone): no other test's server may hold hooks meanwhile
test.serial('servers held at once share one hook per event, and none is left once they stop', async (t) => {
  const events = ['exit', 'SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const count = () => events.map((e) => process.listenerCount(e));
  const before = count();
  const servers = await Promise.all([1, 2, 3].map(async () => startEmbeddedPostgres(await dataDir(), { logger: silentLogger })));
  t.true(servers.every((s) => s.owned));
  t.deepEqual(count(), before.map((n) => n + 1));
  await Promise.all(servers.map((s) => s.stop()));
  t.deepEqual(count(), before);
});
