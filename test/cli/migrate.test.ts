// `skein migrate`: skein's tables on a fresh database (and schema), nothing to do the second
// time, and a datasource prepared for ctx.transaction.
import test from 'ava';
import { readdirSync } from 'node:fs';
import { skeinCli } from '../support/cli.ts';
import { createTestDatabase, sqlAt } from '../support/helpers.ts';

const MIGRATIONS = readdirSync(new URL('../../storage/migrations/', import.meta.url)).filter((f) => f.endsWith('.sql')).sort();

test('migrate applies every migration to a fresh database, then has nothing to apply', async (t) => {
  const url = await createTestDatabase();
  const first = await skeinCli(['migrate', '--db', url]);
  t.is(first.code, 0, first.output);
  t.is(first.stdout, `schema skein: applied ${MIGRATIONS.join(', ')}\n`);
  t.deepEqual((await sqlAt<{ name: string }>(url, 'SELECT name FROM skein.migrations ORDER BY version')).map((r) => r.name), MIGRATIONS);

  const second = await skeinCli(['migrate', '--db', url]);
  t.is(second.code, 0, second.output);
  t.is(second.stdout, `schema skein is up to date (${MIGRATIONS.length} migrations): nothing to apply\n`);
  const json = await skeinCli(['migrate', '--db', url, '--json']);
  t.deepEqual(JSON.parse(json.stdout), { schema: 'skein', applied: [], datasources: [] });

  // a Client (and so the CLI) works on a schema that no Skein ever launched on
  const listed = await skeinCli(['workflow', 'list', '--db', url]);
  t.is(listed.code, 0, listed.output);
  t.is(listed.stdout, 'no workflows match\n');

  const other = await skeinCli(['migrate', '--db', url, '--schema', 'other_app', '--json']);
  t.is(other.code, 0, other.output);
  t.deepEqual(JSON.parse(other.stdout), { schema: 'other_app', applied: MIGRATIONS, datasources: [] });
});

test('migrate --datasource prepares a database for ctx.transaction; one it cannot reach fails naming --datasource', async (t) => {
  const url = await createTestDatabase();
  const app = await createTestDatabase();
  const r = await skeinCli(['migrate', '--db', url, '--datasource', app, '--json']);
  t.is(r.code, 0, r.output);
  const out = JSON.parse(r.stdout) as { applied: string[]; datasources: string[] };
  t.deepEqual(out.applied, MIGRATIONS);
  t.is(out.datasources.length, 1);
  t.regex(out.datasources[0]!, /:\*\*\*@/, 'its password hidden');
  t.deepEqual(await sqlAt(app, "SELECT to_regclass('skein.transaction_outputs')::text AS t"), [{ t: 'skein.transaction_outputs' }]);

  const bad = await skeinCli(['migrate', '--db', url, '--datasource', 'postgres://u:hidden@127.0.0.1:1/app']);
  t.is(bad.code, 1, bad.output);
  t.regex(bad.stderr, /^skein: --datasource: cannot prepare the database at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/app for transactions/);
  t.notRegex(bad.stderr, /hidden/);
  t.is(bad.stderr.split('\n').length, 2, bad.output);
});
