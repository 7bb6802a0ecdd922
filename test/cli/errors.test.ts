// How the command line fails: exit status 1 and one line `skein: <reason>` on stderr, naming
// the option and the value for bad input, found before any database is touched; and its help.
import test from 'ava';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envWithoutDatabase, skeinCli } from '../support/cli.ts';
import { createTestDatabase } from '../support/helpers.ts';

/** Nothing listens there: a command that reached for the database would fail differently. */
const NOWHERE = 'postgres://someone:s3cret@127.0.0.1:1/none';

function failsWith(t: import('ava').ExecutionContext, r: { code: number | null; stdout: string; stderr: string; output: string }, line: RegExp) {
  t.is(r.code, 1, r.output);
  t.is(r.stdout, '', r.output);
  t.is(r.stderr.split('\n').length, 2, `one line: ${r.output}`);
  t.regex(r.stderr, line);
}

test('bad option values fail with one line naming the option and the value, before the database is touched', async (t) => {
  const cases: [string[], RegExp][] = [
    [['workflow', 'list', '--since', 'yesterdayish'], /^skein: option '--since <when>' argument 'yesterdayish' is invalid\. expected a duration ago \(30s, 15m, 1h, 2d, 1w\) or an ISO date/],
    [['workflow', 'list', '--since', '99999999999w'], /^skein: option '--since <when>' argument '99999999999w' is invalid\. 99999999999w ago is before any date there is/],
    [['workflow', 'list', '--until', '2026-02-30'], /^skein: option '--until <when>' argument '2026-02-30' is invalid/],
    [['workflow', 'list', '--status', 'DONE,ERROR'], /^skein: option '--status <statuses>' argument 'DONE,ERROR' is invalid\. unknown status DONE; expected one or more of PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED/],
    [['workflow', 'list', '--limit', '-1'], /^skein: option '--limit <n>' argument '-1' is invalid\. expected a positive integer/],
    [['workflow', 'list', '--limit', '0'], /^skein: option '--limit <n>' argument '0' is invalid/],
    [['workflow', 'list', '--offset', 'x'], /^skein: option '--offset <n>' argument 'x' is invalid\. expected a non-negative integer/],
    [['workflow', 'list', '--asc', '--desc'], /^skein: give --asc or --desc, not both$/m],
    [['workflow', 'fork', 'some-id', '--start-step', '1.5'], /^skein: option '--start-step <n>' argument '1.5' is invalid\. expected a non-negative integer/],
    [['workflow', 'list', '--schema', 'Bad-Name'], /^skein: option '--schema <name>' argument 'Bad-Name' is invalid\. must match/],
    [['schedule', 'backfill', 's', '--from', 'soon', '--to', '1h'], /^skein: option '--from <when>' argument 'soon' is invalid/],
  ];
  for (const [args, line] of cases) failsWith(t, await skeinCli([...args, '--db', NOWHERE]), line);
});

test('an unknown command or option fails with one line; --help lists the commands and exits 0', async (t) => {
  failsWith(t, await skeinCli(['frobnicate']), /^skein: unknown command 'frobnicate'$/m);
  failsWith(t, await skeinCli(['workflow', 'lst']), /^skein: unknown command 'lst' \(Did you mean list\?\)$/m);
  failsWith(t, await skeinCli(['workflow', 'list', '--colour']), /^skein: unknown option '--colour'$/m);
  failsWith(t, await skeinCli(['workflow', 'get']), /^skein: missing required argument 'id'$/m);

  const help = await skeinCli(['--help']);
  t.is(help.code, 0, help.output);
  for (const command of ['workflow', 'queue', 'schedule', 'executor', 'migrate', 'dashboard']) t.regex(help.stdout, new RegExp(`^  ${command}\\b`, 'm'));
  t.regex(help.stdout, /SKEIN_DATABASE_URL, else DATABASE_URL/);
  const wf = await skeinCli(['workflow', '--help']);
  t.is(wf.code, 0, wf.output);
  for (const sub of ['list', 'get', 'steps', 'cancel', 'resume', 'fork', 'restart', 'delete']) t.regex(wf.stdout, new RegExp(`^  ${sub}\\b`, 'm'));
  const fork = await skeinCli(['workflow', 'fork', '--help']);
  t.regex(fork.stdout, /--start-step <n> +steps below this one are copied/);
  t.regex(fork.stdout, /--db <url>/, 'global options are shown too');
  t.regex((await skeinCli(['--version'])).stdout, /^\d+\.\d+\.\d+\n$/);
});

test('a database that does not answer, or has no skein tables, fails with one line and hides the password', async (t) => {
  const refused = await skeinCli(['workflow', 'list', '--db', NOWHERE]);
  failsWith(t, refused, /^skein: cannot connect to the database at --db \(postgres:\/\/someone:\*\*\*@127\.0\.0\.1:1\/none\): connection refused/);
  t.notRegex(refused.stderr, /s3cret/);

  const fromEnv = await skeinCli(['queue', 'list'], { env: { ...envWithoutDatabase(), DATABASE_URL: NOWHERE } });
  failsWith(t, fromEnv, /^skein: cannot connect to the database at DATABASE_URL /);

  const empty = await createTestDatabase();
  failsWith(t, await skeinCli(['workflow', 'list', '--db', empty]), /^skein: schema 'skein' has no skein tables: launch a Skein on this database first/);
  const debug = await skeinCli(['workflow', 'list', '--db', empty, '--debug']);
  t.is(debug.code, 1);
  t.regex(debug.stderr, /^skein: schema 'skein' has no skein tables.*\nConfigError: schema .*\n +at /, 'the stack with --debug');
});

test('with no database configured and no embedded data in the data directory, it says so and creates nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-cli-none-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = envWithoutDatabase();
  failsWith(t, await skeinCli(['workflow', 'list'], { cwd: dir, env }), new RegExp(`^skein: no database: no embedded Postgres in ${join(dir, '.skein')} .*Pass --db <url> or set SKEIN_DATABASE_URL`));
  failsWith(t, await skeinCli(['executor', 'list', '--data-dir', join(dir, 'elsewhere')], { env }), /^skein: no database: no embedded Postgres in .*elsewhere /);
  t.deepEqual(readdirSync(dir), [], 'no cluster was initialised');
});
