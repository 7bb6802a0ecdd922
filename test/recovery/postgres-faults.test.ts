import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, sql, unique, waitFor } from '../support/helpers.ts';
import { privatePostgres } from '../support/private-postgres.ts';

test('connections killed with pg_terminate_backend mid-run: every workflow finishes', async (t) => {
  const skein = await launch(t, { workflowsPerThread: 16 });
  const key = unique('k');
  const handles = await Promise.all(
    Array.from({ length: 30 }, (_, i) => skein.start(wf.slowSteps, { key: `${key}-${i}`, steps: 6, stepMs: 50 })),
  );
  await waitFor(async () => (await count(`${key}-0:s1`)) >= 1);
  for (let i = 0; i < 3; i++) {
    // skein's connections only (application_name), not the test counters'
    await sql(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'skein'`,
    );
    await new Promise((r) => setTimeout(r, 100));
  }
  t.deepEqual(await Promise.all(handles.map((h) => h.result())), handles.map(() => 15));
  t.is(await count('violations'), 0);
});

test('Postgres restarted while 50 workflows run: all finish', async (t) => {
  const server = await privatePostgres(t);
  const skein = await launch(t, { databaseUrl: server.url, workflowsPerThread: 32 });
  const key = unique('k');
  const handles = await Promise.all(
    Array.from({ length: 50 }, (_, i) => skein.start(wf.slowSteps, { key: `${key}-${i}`, steps: 8, stepMs: 50 })),
  );
  await waitFor(async () => (await count(`${key}-0:s2`)) >= 1);
  await server.stop();
  await new Promise((r) => setTimeout(r, 1000));
  await server.start();
  t.deepEqual(await Promise.all(handles.map((h) => h.result())), handles.map(() => 28));
  const statuses = await skein.listWorkflows({ ids: handles.map((h) => h.id), loadInput: false });
  t.true(statuses.every((s) => s.status === 'SUCCESS'));
});
