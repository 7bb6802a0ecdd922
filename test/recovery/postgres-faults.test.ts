import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, migrated, sql, unique, waitFor } from '../support/helpers.ts';
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

test('Postgres restarted while 50 workflows run: all finish, and no step runs twice', async (t) => {
  // slowSteps' guard looks for its checkpoint in this file's database, not in the private
  // server's: it needs skein's tables there (alone, this test once failed for want of them),
  // and it cannot see a re-run here; the counters below do
  await migrated();
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
  // a checkpoint that met the restart was written again, not its step run again
  const runs = await sql<{ n: number }>(`SELECT n FROM test_counters WHERE key LIKE $1`, [`${key}-%`]);
  t.is(runs.length, 50 * 8);
  t.deepEqual(runs.filter((r) => r.n !== 1), [], 'every step ran once');
});

test('a checkpoint that meets a Postgres restart is written again: its step does not run again', async (t) => {
  const server = await privatePostgres(t);
  const skein = await launch(t, { databaseUrl: server.url });
  const key = unique('k');
  const dir = mkdtempSync(join(tmpdir(), 'skein-gate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gate = join(dir, 'go');
  const handle = await skein.start(wf.gatedStep, { key, gate });
  await waitFor(async () => (await count(`${key}:ran`)) >= 1);
  // the step's outcome reaches main while the server is down: its checkpoint fails, for a while
  await server.stop();
  writeFileSync(gate, '');
  await new Promise((r) => setTimeout(r, 1500));
  await server.start();
  t.is(await handle.result(), 'done');
  t.is(await count(`${key}:ran`), 1, 'the step ran once');
  const [status] = await skein.listWorkflows({ ids: [handle.id], loadInput: false });
  t.is(status?.attempts, 1, 'the run was not interrupted');
});
