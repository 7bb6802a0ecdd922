// The first start on a data directory, when several processes make it at once: before the fix
// every one of them saw no cluster and ran initdb into the same pgdata, each writing
// credentials.json with its own password (3 of 4 such processes failed; a survivor could hold a
// password the cluster did not have). Real processes, released together by one line on stdin.
import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { silentLogger } from '../../common/logger.ts';
import { startEmbeddedPostgres } from '../../storage/embedded.ts';
import { runningPostmaster } from '../../storage/embedded-postmaster.ts';
import { within } from '../support/helpers.ts';

const STARTERS = 4;

// under the directory `npm test` sweeps when it ends: a killed run leaves no server behind
function dataDirFor(t: ExecutionContext): string {
  const dir = mkdtempSync(join(process.env.SKEIN_TEST_SERVERS_DIR ?? tmpdir(), 'skein-first-start-'));
  chmodSync(dir, 0o755); // else, as root, the data would move to where `postgres` can reach it
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'db');
}

// says `ready` once loaded (tsx takes seconds), starts on `go`, reports, stops on `stop`
const starter = `
  const { createInterface } = await import('node:readline');
  const { startEmbeddedPostgres } = await import(${JSON.stringify(new URL('../../storage/embedded.ts', import.meta.url).pathname)});
  const { silentLogger } = await import(${JSON.stringify(new URL('../../common/logger.ts', import.meta.url).pathname)});
  const commands = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  process.stdout.write('ready\\n');
  await commands.next();
  const server = await startEmbeddedPostgres(process.argv[1], { settings: { fsync: 'off' }, logger: silentLogger });
  process.stdout.write(JSON.stringify({ url: server.url, owned: server.owned, dataDir: server.dataDir }) + '\\n');
  await commands.next();
  await server.stop();
  process.exit(0);`;

interface Starter {
  child: ChildProcess;
  /** the next line the child prints; rejects with its stderr if it exits first */
  next(): Promise<string>;
  exited: Promise<number | null>;
}

function launchStarter(t: ExecutionContext, dataDir: string): Starter {
  const child = spawn(process.execPath, ['--import=tsx', '--input-type=module', '-e', starter, dataDir], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const died = async () => {
    throw new Error(`a starter exited (${await exited}):\n${stderr.slice(-1500)}`);
  };
  const next = () => Promise.race([lines.next().then(({ done, value }) => (done ? died() : (value as string))), exited.then(died)]);
  return { child, next, exited };
}

async function onServer<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

test(`${STARTERS} processes starting on one fresh data directory at once all start, on one cluster, and stop cleanly`, async (t) => {
  const dataDir = dataDirFor(t);
  const starters = Array.from({ length: STARTERS }, () => launchStarter(t, dataDir));
  await within(Promise.all(starters.map((s) => s.next())), 60_000, 'the starters loading');
  for (const s of starters) s.child.stdin!.write('go\n');
  const reports = await within(
    Promise.all(starters.map(async (s) => JSON.parse(await s.next()) as { url: string; owned: boolean; dataDir: string })),
    120_000,
    'every starter reporting its server',
  );

  t.is(reports.filter((r) => r.owned).length, 1, 'one of them started the server, the others joined it');
  t.is(new Set(reports.map((r) => r.url)).size, 1, 'one server, one password');
  // every URL logs in (its password is the cluster's), and every one reaches the same cluster
  const clusters = await Promise.all(
    reports.map((r) => onServer(r.url, async (c) => (await c.query('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0].id)),
  );
  t.is(new Set(clusters).size, 1, `one cluster: ${clusters.join(', ')}`);
  await Promise.all(reports.map((r, i) => onServer(r.url, (c) => c.query(`CREATE TABLE made_by_${i} ()`))));
  for (const r of reports) {
    const seen = await onServer(r.url, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'made_by_%'")).rows[0].n);
    t.is(seen, STARTERS, "each sees every starter's table");
  }
  const where = reports[0]!.dataDir; // as root, maybe the relocated place
  t.deepEqual(readdirSync(where).filter((name) => name.startsWith('pgdata')), ['pgdata'], 'no cluster left half-made beside it');

  for (const s of starters) s.child.stdin!.write('stop\n');
  const codes = await within(Promise.all(starters.map((s) => s.exited)), 60_000, 'the starters stopping');
  t.deepEqual(codes, starters.map(() => 0));
  t.is(runningPostmaster(join(where, 'pgdata')), null, 'the server stopped with them');
});

test('a cluster a crashed initdb left half-made beside pgdata does not stop a later start, and goes once stale', async (t) => {
  const dataDir = dataDirFor(t);
  const first = await startEmbeddedPostgres(dataDir, { settings: { fsync: 'off' }, logger: silentLogger });
  await first.stop();
  // what a process killed during its initdb leaves: one of a dead process, long ago, and one of
  // a dead process just now
  const stale = join(first.dataDir, 'pgdata.init-999999999-x-0badc0de');
  const recent = join(first.dataDir, 'pgdata.init-999999998-x-0badbeef');
  for (const dir of [stale, recent]) mkdirSync(join(dir, 'base'), { recursive: true });
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(stale, hourAgo, hourAgo);

  const again = await within(startEmbeddedPostgres(dataDir, { settings: { fsync: 'off' }, logger: silentLogger }), 30_000, 'a start beside leftovers');
  t.teardown(() => again.stop({ force: true }));
  t.is(await onServer(again.url, async (c) => (await c.query('SELECT 1 AS one')).rows[0].one), 1);
  const left = readdirSync(first.dataDir).filter((name) => name.startsWith('pgdata.init-'));
  t.deepEqual(left, ['pgdata.init-999999998-x-0badbeef'], 'the stale one swept, the recent one left to its age');
});

test('a data directory of an earlier version (its credentials in credentials.json beside pgdata) starts as before', async (t) => {
  const dataDir = dataDirFor(t);
  const first = await startEmbeddedPostgres(dataDir, { settings: { fsync: 'off' }, logger: silentLogger });
  await first.stop();
  // the layout earlier versions made: the password beside the cluster, none inside it
  renameSync(join(first.dataDir, 'pgdata', 'skein-credentials.json'), join(first.dataDir, 'credentials.json'));
  const again = await startEmbeddedPostgres(dataDir, { settings: { fsync: 'off' }, logger: silentLogger });
  t.teardown(() => again.stop({ force: true }));
  t.is(again.url, first.url.replace(/:\d+\//, `:${new URL(again.url).port}/`), 'the same password');
  t.is(await onServer(again.url, async (c) => (await c.query('SELECT 1 AS one')).rows[0].one), 1);
});
