// Planner statistics while skein's tables are young (runtime/young-tables.ts): autovacuum first
// analyzes a table up to a minute after it fills, and until then plans of the writer's flushes
// went wrong (bench/PROFILES.md). skein analyzes its busiest tables itself meanwhile.
import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { launch, migrated, sql, unique, waitFor } from '../support/helpers.ts';

test('a new database has planner statistics on workflow_status and steps within seconds of its first workflows', async (t) => {
  await migrated();
  // autovacuum kept off these tables: the statistics seen here can only be skein's own
  for (const table of ['workflow_status', 'steps']) await sql(`ALTER TABLE skein.${table} SET (autovacuum_enabled = false)`);
  const analyzed = async () =>
    (await sql<{ relname: string }>(
      `SELECT relname FROM pg_stat_user_tables
       WHERE schemaname = 'skein' AND relname IN ('workflow_status', 'steps') AND last_analyze IS NOT NULL ORDER BY relname`,
    )).map((r) => r.relname);
  t.deepEqual(await analyzed(), [], 'never analyzed before');
  const skein = await launch(t);
  const key = unique('k');
  const handles = await Promise.all(Array.from({ length: 120 }, (_, n) => skein.start(wf.threeSteps, { key, n })));
  await Promise.all(handles.map((h) => h.result()));
  await waitFor(async () => (await analyzed()).length === 2, 20_000, 'both tables to be analyzed');
  t.deepEqual(await analyzed(), ['steps', 'workflow_status']);
  const [steps] = await sql<{ reltuples: number }>(`SELECT reltuples FROM pg_class WHERE oid = 'skein.steps'::regclass`);
  t.true(steps!.reltuples >= 200, `the planner knows of ${steps!.reltuples} step rows`);
});
