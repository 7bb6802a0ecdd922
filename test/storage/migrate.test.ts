import test from 'ava';
import { createPool } from '../../storage/database.ts';
import { migrate } from '../../storage/migrate.ts';
import { ConfigError } from '../../common/errors.ts';
import * as wf from '../fixtures/workflows.ts';
import { launch, sql, testDatabase } from '../support/helpers.ts';

test('migrations applied by several processes at once run exactly once', async (t) => {
  const url = await testDatabase();
  const pools = Array.from({ length: 5 }, () => createPool(url, 1, () => {}));
  t.teardown(() => Promise.all(pools.map((p) => p.end())));
  const applied = await Promise.all(pools.map((p) => migrate(p, 'concurrent_schema')));
  t.is(applied.flat().length, applied[0]!.length + applied.slice(1).flat().length);
  t.is(applied.filter((a) => a.length > 0).length, 1, 'one migrator applied, the others found it done');
  const rows = await sql('SELECT version FROM concurrent_schema.migrations ORDER BY version');
  t.deepEqual(rows.map((r) => r.version), applied.find((a) => a.length > 0));
  t.deepEqual(await migrate(pools[0]!, 'concurrent_schema'), [], 'idempotent');
});

test('a configured schema holds the system tables', async (t) => {
  const skein = await launch(t, { schema: 'custom_schema' });
  t.is(await skein.run(wf.echo, 'x'), 'x');
  const rows = await sql(`SELECT count(*)::int AS n FROM custom_schema.workflow_status`);
  t.is(rows[0].n, 1);
});

test('schema names that would need quoting are refused before any SQL runs', async (t) => {
  const pool = createPool(await testDatabase(), 1, () => {});
  t.teardown(() => pool.end());
  for (const bad of ['Skein', 'a-b', 'x; DROP TABLE y', '', '1abc', 'a'.repeat(64)]) {
    await t.throwsAsync(migrate(pool, bad), { instanceOf: ConfigError }, bad);
  }
});
