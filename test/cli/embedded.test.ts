// The CLI with no database configured: it reads the embedded Postgres that an app left in its
// data directory (--data-dir, or .skein/ in the working directory), starts it for the command
// and stops it after, or joins it while the app runs and leaves it running.
import test from 'ava';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { column, envWithoutDatabase, skeinCli } from '../support/cli.ts';
import { fixtures, unique } from '../support/helpers.ts';

// this file's process only (ava runs each file in its own): the Skeins below use the embedded Postgres
delete process.env.SKEIN_DATABASE_URL;
delete process.env.DATABASE_URL;

/** A new directory, under the one `npm test` sweeps: a timed-out run leaves no server behind. */
function appDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(join(process.env.SKEIN_TEST_SERVERS_DIR ?? tmpdir(), 'skein-cli-'));
  chmodSync(dir, 0o755); // as root, the postgres OS user must reach it
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const running = (dataDir: string) => existsSync(join(dataDir, 'pgdata', 'postmaster.pid'));

test('workflow list reads the embedded Postgres a Skein left, by --data-dir or the working directory, and stops it after', async (t) => {
  t.timeout(3 * 60_000);
  const dir = appDir(t);
  const dataDir = join(dir, '.skein');
  const skein = await Skein.launch({ workflows: fixtures, dataDir, threads: 1 });
  const ids = [unique('emb'), unique('emb'), unique('emb')];
  for (const id of ids) t.is(await skein.run(wf.echo, id, { id }), id);
  await skein.shutdown();
  t.false(running(dataDir), 'the Skein stopped the server it started');

  const env = envWithoutDatabase();
  for (const [how, args, cwd] of [
    ['--data-dir', ['--data-dir', dataDir], undefined],
    ['the working directory', [], dir],
  ] as const) {
    const r = await skeinCli(['workflow', 'list', '--limit', '5', ...args], { env, cwd });
    t.is(r.code, 0, `${how}: ${r.output}`);
    t.deepEqual(column(r.stdout, 'ID').slice(1), ids.slice().reverse(), `${how}: ${r.output}`);
    t.false(running(dataDir), `${how}: the CLI stopped the server it started`);
  }

  // while an app runs the server, the CLI joins it and leaves it running
  const again = await Skein.launch({ workflows: fixtures, dataDir, threads: 1 });
  t.teardown(() => again.shutdown());
  const joined = await skeinCli(['executor', 'list', '--json'], { env, cwd: dir });
  t.is(joined.code, 0, joined.output);
  t.like((JSON.parse(joined.stdout) as { executorId: string }[]).find((e) => e.executorId === again.executorId), { alive: true });
  t.is(await again.run(wf.echo, 'still up'), 'still up');
  await again.shutdown();
  t.false(running(dataDir));
});

test('migrate initialises the embedded Postgres of an empty data directory, applies the migrations, and stops it', async (t) => {
  t.timeout(3 * 60_000);
  const dataDir = join(appDir(t), 'data');
  const env = envWithoutDatabase();
  const r = await skeinCli(['migrate', '--data-dir', dataDir], { env });
  t.is(r.code, 0, r.output);
  t.regex(r.stdout, /^schema skein: applied 0001_initial\.sql, .*\n$/);
  t.false(running(dataDir), 'the CLI stopped the server it started');
  const listed = await skeinCli(['workflow', 'list', '--data-dir', dataDir], { env });
  t.is(listed.code, 0, listed.output);
  t.is(listed.stdout, 'no workflows match\n');
});
