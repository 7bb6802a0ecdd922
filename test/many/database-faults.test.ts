// Takeover of dead executors (README "Running many processes") under database faults: what a
// restart of Postgres, cut pooled connections, a cut registry session and a clean shutdown do to
// two Skeins of one app version with takeover on. Real Postgres, real worker threads. Each step
// of the fixture (faults-steps.ts) records its runs in faults_runs on the test file's database,
// which no fault here touches, so "no completed step ran again" is read from there. Each test
// has its own appVersion (its own ring), so the tests of this file, which run concurrently on
// one database, never take over each other's work. Timings are logged, never asserted.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Skein, type SkeinConfig, type WorkflowHandle } from '../../runtime/index.ts';
import { faultSteps, faultStepsFewAttempts, faultsWait } from '../fixtures/faults-steps.ts';
import { migrated, sql, sqlAt, testDatabase, unique, waitFor, within } from '../support/helpers.ts';
import { privatePostgres } from '../support/private-postgres.ts';

const workflows = new URL('../fixtures/faults-steps.ts', import.meta.url);
/** Takeover on, with a short lease: a cut registry session or a shutdown is handled in seconds. */
const takeover = { leaseMs: 2000 };
/**
 * For the tests that assert that nobody is taken over. Both Skeins of a test share this
 * process, whose event loop stalls now and then on a loaded machine (stalls() logs it: 1 to
 * 4.6 s seen here): a watcher waking from a stall longer than a 2 s lease finds its peer's
 * heartbeat stale and, as designed for a frozen process, ends its session and takes its work
 * over. With 6 s that stays out of what these tests judge; the restart guards are the same
 * (the server up for the lease; a watcher's own session up for min(lease, 3 s)).
 */
const steadyTakeover = { leaseMs: 6000 };
/** Bounds that only catch hangs: nothing here should take a fraction of them. */
const HANG_MS = 120_000;

/** A role of its own for one Skein, so that its connections can be told from the other's. */
const role = `faults_${randomBytes(4).toString('hex')}`;
const rolePassword = randomBytes(12).toString('hex');

/**
 * This process's event-loop stalls (all tests of the file share it): a stall longer than a
 * lease makes a live Skein look frozen to a watcher (heartbeat stale), which is a takeover by
 * design, not by a fault under test. Logged with each test, to tell the two apart.
 */
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
const stalls = () => `event loop delay so far (this file): max ${Math.round(loopDelay.max / 1e6)} ms, p99 ${Math.round(loopDelay.percentile(99) / 1e6)} ms`;

test.before(async () => {
  await migrated();
  await sql(`CREATE TABLE faults_runs (
    workflow_id text NOT NULL, step text NOT NULL, thread_id int NOT NULL,
    ran_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  await sql('CREATE INDEX faults_runs_wf ON faults_runs (workflow_id)');
  await sql(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${rolePassword}'`);
});

test.after.always(async () => {
  // the server is the test run's own and goes away with it; tidy up if nothing holds the role
  await sql(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
});

/** A Skein of `appVersion` on `databaseUrl` with takeover on (short lease), shut down when the test ends. */
async function launchOn(
  t: ExecutionContext,
  databaseUrl: string,
  appVersion: string,
  config: Partial<SkeinConfig> = {},
): Promise<Skein> {
  const skein = await Skein.launch({
    workflows,
    databaseUrl,
    threads: 1,
    workflowsPerThread: 32,
    executorId: unique('exec'),
    appVersion,
    takeover,
    ...config,
  });
  t.teardown(() => skein.shutdown({ timeoutMs: 2000 }));
  t.log(`launched ${skein.executorId}`);
  return skein;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const expected = (i: number, steps: number) => range(steps).map((k) => i * 100 + k);

/** Starts `count` faultSteps workflows on `skein`, with IDs `${prefix}${i}`. */
function startSteps(skein: Skein, prefix: string, count: number, steps: number, stepMs: number, gate?: string): Promise<WorkflowHandle<number[]>[]> {
  return Promise.all(range(count).map((i) => skein.start(faultSteps, { i, steps, stepMs, gate }, { id: `${prefix}${i}` })));
}

/** The steps skein has recorded of these workflows (`${workflowId}#${name}`), on the database at `url`. */
async function recordedSteps(url: string, ids: string[]): Promise<string[]> {
  const rows = await sqlAt<{ workflow_id: string; name: string }>(url, 'SELECT workflow_id, name FROM skein.steps WHERE workflow_id = ANY($1)', [ids]);
  return rows.map((r) => `${r.workflow_id}#${r.name}`);
}

/** How many times each step of these workflows ran (`${workflowId}#${step}` -> runs). */
async function runs(ids: string[]): Promise<Map<string, number>> {
  const rows = await sql<{ workflow_id: string; step: string; n: number }>(
    'SELECT workflow_id, step, count(*)::int AS n FROM faults_runs WHERE workflow_id = ANY($1) GROUP BY 1, 2',
    [ids],
  );
  return new Map(rows.map((r) => [`${r.workflow_id}#${r.step}`, r.n]));
}

/** The steps among `completed` (recorded before a fault) that ran more than once. */
async function ranAgain(completed: string[], ids: string[]): Promise<string[]> {
  const n = await runs(ids);
  return completed.filter((key) => (n.get(key) ?? 0) !== 1);
}

/** Steps that ran more than once, whatever the reason (logged: one in flight at a fault may). */
async function repeated(ids: string[]): Promise<string[]> {
  return [...(await runs(ids))].filter(([, n]) => n > 1).map(([key, n]) => `${key} x${n}`);
}

/** The executor on each workflow's row: id -> executorId. */
async function owners(skein: Skein, ids: string[]): Promise<Map<string, string>> {
  const list = await skein.listWorkflows({ ids, loadInput: false, loadOutput: false });
  return new Map(list.map((s) => [s.id, s.executorId]));
}

async function aliveOf(skein: Skein, executorId: string): Promise<boolean | undefined> {
  return (await skein.listExecutors()).find((e) => e.executorId === executorId)?.alive;
}

/** Two Skeins of a new app version with takeover on, once both registry sessions are older than a lease. */
async function settledPair(t: ExecutionContext, name: string): Promise<[Skein, Skein]> {
  const fileUrl = await testDatabase();
  const appVersion = unique(name);
  const a = await launchOn(t, fileUrl, appVersion);
  const b = await launchOn(t, fileUrl, appVersion);
  const launchedAt = Date.now();
  // past the guard against mass disconnects (a watcher whose own session is younger than
  // min(lease, 3 s) takes no free lock for a death), so that a takeover is possible: the case
  // of the README's trade-off
  await waitFor(() => Date.now() - launchedAt > takeover.leaseMs + 500, HANG_MS, 'a lease after launch');
  return [a, b];
}

/** Terminates `skein`'s registry session alone; returns when (database clock). */
async function cutRegistry(t: ExecutionContext, skein: Skein): Promise<Date> {
  const cut = await sql<{ ended: boolean; at: Date }>(
    `SELECT pg_terminate_backend(pid) AS ended, clock_timestamp() AS at FROM pg_stat_activity
     WHERE application_name = 'skein registry' AND pid = (SELECT backend_pid FROM skein.executors WHERE executor_id = $1)`,
    [skein.executorId],
  );
  t.deepEqual(cut.map((r) => r.ended), [true], 'the registry session was terminated');
  return cut[0]?.at ?? new Date();
}

test('Postgres restarted under two takeover Skeins: each keeps its own workflows, all finish, no completed step runs again', async (t) => {
  // a private server, restarted on the same data dir and port
  const server = await privatePostgres(t);
  const url = server.url;
  await testDatabase(); // faults_runs' database, for the steps (SKEIN_TEST_DB)

  const appVersion = unique('restart');
  // one after the other: the first migrates the private database
  const a = await launchOn(t, url, appVersion, { takeover: steadyTakeover });
  const b = await launchOn(t, url, appVersion, { takeover: steadyTakeover });
  const N = 8;
  const STEPS = 8;
  const prefix = unique('restart');
  // steps from s2 on wait for the gate, opened after the restart: work is left at the restart
  const gate = `${prefix}-gate`;
  const [ha, hb] = await Promise.all([startSteps(a, `${prefix}-a`, N, STEPS, 100, gate), startSteps(b, `${prefix}-b`, N, STEPS, 100, gate)]);
  const idsA = ha.map((h) => h.id);
  const idsB = hb.map((h) => h.id);
  const ids = [...idsA, ...idsB];

  // every workflow has checkpointed steps; those must not run again
  await waitFor(
    async () => (await recordedSteps(url, ids)).filter((k) => k.endsWith('#s1')).length === ids.length,
    HANG_MS,
    'every workflow past its step s1',
  );
  const completed = await recordedSteps(url, ids);
  t.true(completed.length < ids.length * STEPS, 'some steps are still to run at the restart');

  await server.stop();
  const stoppedAt = Date.now();
  // the steps go on while the server is down: their checkpoints meet the outage
  await sql("INSERT INTO faults_runs (workflow_id, step, thread_id) VALUES ($1, 'open', 0)", [gate]);
  await new Promise((r) => setTimeout(r, 1000));
  await server.start();
  const restartedAt = Date.now();
  t.log(`at the fault: ${stalls()}`);

  const [resultsA, resultsB] = await within(
    Promise.all([Promise.all(ha.map((h) => h.result())), Promise.all(hb.map((h) => h.result()))]),
    HANG_MS,
    'every workflow finishing after the restart',
  );
  t.log(`down ${restartedAt - stoppedAt} ms; every workflow finished ${Date.now() - restartedAt} ms after the restart`);
  t.deepEqual(resultsA, range(N).map((i) => expected(i, STEPS)));
  t.deepEqual(resultsB, range(N).map((i) => expected(i, STEPS)));

  // nobody took over a live executor's work
  const byId = await owners(a, ids);
  t.deepEqual(idsA.map((id) => byId.get(id)), idsA.map(() => a.executorId));
  t.deepEqual(idsB.map((id) => byId.get(id)), idsB.map(() => b.executorId));
  const ended = await sqlAt(url, 'SELECT executor_id FROM skein.executors WHERE ended_at IS NOT NULL AND app_version = $1', [appVersion]);
  t.deepEqual(ended, [], 'no executor was marked taken over');

  // each step recorded once, and none recorded before the restart ran again
  const after = await recordedSteps(url, ids);
  t.is(after.length, ids.length * STEPS);
  t.is(new Set(after).size, after.length);
  t.deepEqual(await ranAgain(completed, ids), [], 'steps completed before the restart that ran again');
  t.log(`${completed.length} of ${ids.length * STEPS} steps were done at the restart; ran more than once (in flight at it): ${(await repeated(ids)).join(', ') || 'none'}`);

  // both registered and alive again
  await waitFor(
    async () => (await aliveOf(a, a.executorId)) === true && (await aliveOf(a, b.executorId)) === true,
    HANG_MS,
    'both executors alive after the restart',
  );
  t.log(`both executors alive ${Date.now() - restartedAt} ms after the restart (checked after the workflows finished)`);
  t.log(stalls());
});

test("one Skein's pooled connections terminated: no takeover, every workflow finishes", async (t) => {
  const fileUrl = await testDatabase();
  const roleUrl = new URL(fileUrl);
  roleUrl.username = role;
  roleUrl.password = rolePassword;
  const appVersion = unique('pooled');
  // a's connections are the role's: pg_stat_activity tells them from b's (and from the test's)
  const a = await launchOn(t, roleUrl.href, appVersion, { takeover: steadyTakeover });
  const b = await launchOn(t, fileUrl, appVersion, { takeover: steadyTakeover });
  const N = 8;
  const STEPS = 6;
  const prefix = unique('pooled');
  const [ha, hb] = await Promise.all([startSteps(a, `${prefix}-a`, N, STEPS, 100), startSteps(b, `${prefix}-b`, N, STEPS, 100)]);
  const idsA = ha.map((h) => h.id);
  const idsB = hb.map((h) => h.id);
  const ids = [...idsA, ...idsB];

  await waitFor(
    async () => (await recordedSteps(fileUrl, ids)).filter((k) => k.endsWith('#s1')).length === ids.length,
    HANG_MS,
    'every workflow past its step s1',
  );
  const registryBefore = await sql<{ backend_pid: number }>('SELECT backend_pid FROM skein.executors WHERE executor_id = $1', [a.executorId]);
  const completed = await recordedSteps(fileUrl, ids);
  let terminated = 0;
  for (let round = 0; round < 3; round++) {
    const rows = await sql<{ ended: boolean }>(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
       WHERE datname = current_database() AND usename = $1 AND application_name = 'skein'`,
      [role],
    );
    terminated += rows.filter((r) => r.ended).length;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.true(terminated > 0, "a's pooled connections were terminated");
  const cutAt = Date.now();
  t.log(`at the fault: ${stalls()}`);

  const [resultsA, resultsB] = await within(
    Promise.all([Promise.all(ha.map((h) => h.result())), Promise.all(hb.map((h) => h.result()))]),
    HANG_MS,
    'every workflow finishing after the connections were cut',
  );
  t.log(`${terminated} connections terminated in 3 rounds; every workflow finished ${Date.now() - cutAt} ms after`);
  t.deepEqual(resultsA, range(N).map((i) => expected(i, STEPS)));
  t.deepEqual(resultsB, range(N).map((i) => expected(i, STEPS)));

  // the registry session was not touched, and nobody took anything over
  const registryAfter = await sql<{ backend_pid: number; ended: boolean }>(
    'SELECT backend_pid, ended_at IS NOT NULL AS ended FROM skein.executors WHERE executor_id = $1',
    [a.executorId],
  );
  t.deepEqual(registryAfter, [{ backend_pid: registryBefore[0]!.backend_pid, ended: false }]);
  const byId = await owners(b, ids);
  t.deepEqual(idsA.map((id) => byId.get(id)), idsA.map(() => a.executorId));
  t.deepEqual(idsB.map((id) => byId.get(id)), idsB.map(() => b.executorId));
  t.true(await aliveOf(b, a.executorId));
  t.true(await aliveOf(b, b.executorId));

  const after = await recordedSteps(fileUrl, ids);
  t.is(after.length, ids.length * STEPS);
  t.deepEqual(await ranAgain(completed, ids), [], 'steps completed before the cut that ran again');
  t.log(`ran more than once (in flight at the cut): ${(await repeated(ids)).join(', ') || 'none'}`);
  t.log(stalls());
});

test("one Skein's registry session terminated: whatever happens, every workflow finishes once per step and its registry comes back", async (t) => {
  const fileUrl = await testDatabase();
  const [a, b] = await settledPair(t, 'registry');
  const N = 8;
  const STEPS = 10;
  const prefix = unique('registry');
  const [ha, hb] = await Promise.all([startSteps(a, `${prefix}-a`, N, STEPS, 150), startSteps(b, `${prefix}-b`, N, STEPS, 150)]);
  const idsA = ha.map((h) => h.id);
  const idsB = hb.map((h) => h.id);
  const ids = [...idsA, ...idsB];

  // mid-run
  await waitFor(
    async () => (await recordedSteps(fileUrl, idsA)).filter((k) => k.endsWith('#s2')).length === idsA.length,
    HANG_MS,
    'every workflow of a past its step s2',
  );
  const done = (await recordedSteps(fileUrl, ids)).length;
  t.true(done < ids.length * STEPS, 'some steps are still to run at the cut');
  const aThreads = (
    await sql<{ thread_id: number }>('SELECT DISTINCT thread_id FROM faults_runs WHERE workflow_id = ANY($1)', [idsA])
  ).map((r) => r.thread_id);
  const cutAtDb = await cutRegistry(t, a);
  const cutAt = Date.now();
  t.log(`at the fault: ${stalls()}`);

  const [resultsA, resultsB] = await within(
    Promise.all([Promise.all(ha.map((h) => h.result())), Promise.all(hb.map((h) => h.result()))]),
    HANG_MS,
    'every workflow finishing after the registry session was cut',
  );
  const finishedMs = Date.now() - cutAt;
  t.deepEqual(resultsA, range(N).map((i) => expected(i, STEPS)));
  t.deepEqual(resultsB, range(N).map((i) => expected(i, STEPS)));

  // what the database says of each, whoever ran it
  const statuses = await b.listWorkflows({ ids, loadInput: false });
  t.deepEqual(
    ids.map((id) => statuses.find((s) => s.id === id)).map((s) => [s?.status, s?.output]),
    ids.map((id) => ['SUCCESS', expected(Number(id.slice(id.lastIndexOf('-') + 2)), STEPS)]),
  );
  // each step recorded exactly once, with its value
  for (const id of ids) {
    const i = Number(id.slice(id.lastIndexOf('-') + 2));
    const steps = await b.getWorkflowSteps(id);
    t.deepEqual(
      steps.map((s) => [s.name, s.output]),
      range(STEPS).map((k) => [`s${k}`, i * 100 + k]),
      `steps of ${id}`,
    );
  }

  // a's registry comes back
  await waitFor(async () => (await aliveOf(b, a.executorId)) === true, HANG_MS, "a's registry alive again");
  const backMs = Date.now() - cutAt;
  t.true(await aliveOf(b, b.executorId));
  const row = await sql<{ ended: boolean }>('SELECT ended_at IS NOT NULL AS ended FROM skein.executors WHERE executor_id = $1', [a.executorId]);
  t.deepEqual(row, [{ ended: false }]);

  // what happened: logged, not asserted (README: a live process cut off is treated as dead)
  const byId = await owners(b, ids);
  const takenOver = idsA.filter((id) => byId.get(id) === b.executorId).length;
  const attempts = statuses.filter((s) => idsA.includes(s.id)).map((s) => s.attempts);
  t.log(
    takenOver > 0
      ? `TAKEOVER: b took over ${takenOver} of a's ${idsA.length} workflows while a still ran them`
      : "NO TAKEOVER: a's workflows stayed a's",
  );
  t.log(`b's workflows stayed b's: ${idsB.every((id) => byId.get(id) === b.executorId)}; attempts of a's workflows: ${attempts.join(',')}`);
  t.log(`${done} of ${ids.length * STEPS} steps done at the cut; all finished ${finishedMs} ms after it; a alive again ${backMs} ms after it`);
  const again = await repeated(ids);
  t.log(`steps that ran more than once: ${again.length}${again.length ? ` (${again.join(', ')})` : ''}`);
  // who ran the steps of a's workflows that began after the cut: a's own threads (its runs went
  // on), others (b's), or both (a race, recorded once)
  const later = await sql<{ by: string }>(
    `SELECT CASE WHEN bool_and(thread_id = ANY($3)) THEN 'a only' WHEN bool_or(thread_id = ANY($3)) THEN 'both' ELSE 'b only' END AS by
     FROM faults_runs WHERE workflow_id = ANY($1) GROUP BY workflow_id, step HAVING min(ran_at) > $2`,
    [idsA, cutAtDb, aThreads],
  );
  const tally = new Map<string, number>();
  for (const r of later) tally.set(r.by, (tally.get(r.by) ?? 0) + 1);
  t.log(`steps of a's workflows begun after the cut, by who ran them: ${[...tally].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}`);
  t.log(stalls());
});

test('a Skein shut down with workflows waiting: a live one of its version takes them over and finishes them', async (t) => {
  const fileUrl = await testDatabase();
  const appVersion = unique('shutdown');
  const a = await launchOn(t, fileUrl, appVersion);
  const b = await launchOn(t, fileUrl, appVersion);
  const prefix = unique('shutdown');
  const N = 4;
  // recvs that only a message ends, and sleeps that end a while after a's shutdown
  const receivers = await Promise.all(
    range(N).map((i) => a.start(faultsWait, { i, how: 'recv' as const, ms: 600_000 }, { id: `${prefix}-r${i}` })),
  );
  const sleepers = await Promise.all(
    range(N).map((i) => a.start(faultsWait, { i, how: 'sleep' as const, ms: 4000 }, { id: `${prefix}-s${i}` })),
  );
  const ids = [...receivers, ...sleepers].map((h) => h.id);
  await waitFor(
    async () => (await recordedSteps(fileUrl, ids)).filter((k) => k.endsWith('#before')).length === ids.length,
    HANG_MS,
    "every workflow waiting, past its step 'before'",
  );

  await within(a.shutdown({ timeoutMs: 2000 }), HANG_MS, "a's shutdown");
  const stoppedAt = Date.now();
  t.log(`at the fault: ${stalls()}`);
  // the receivers cannot have finished (no message yet): the shutdown left them PENDING, under
  // a or, if b was quick, already under b
  const left = await b.listWorkflows({ ids: receivers.map((h) => h.id), loadInput: false, loadOutput: false });
  t.deepEqual(left.map((s) => s.status), receivers.map(() => 'PENDING'), 'receivers left PENDING');
  t.true(left.every((s) => s.executorId === a.executorId || s.executorId === b.executorId));
  t.log(`at the end of a's shutdown, ${left.filter((s) => s.executorId === b.executorId).length} of ${left.length} receivers were b's already`);

  // b takes them over
  await waitFor(
    async () => [...(await owners(b, ids)).values()].filter((e) => e === b.executorId).length === ids.length,
    HANG_MS,
    'b owning every workflow a left',
  );
  t.log(`b took over a's ${ids.length} workflows within ${Date.now() - stoppedAt} ms of a's shutdown`);
  const gone = (await b.listExecutors()).find((e) => e.executorId === a.executorId);
  t.is(gone?.alive, false);
  t.true(await aliveOf(b, b.executorId));

  for (const h of receivers) await b.send(h.id, `go-${h.id}`, 'go');
  const results = await within(
    Promise.all(ids.map((id) => b.retrieve<{ before: number; got: string | null; after: number }>(id).result())),
    HANG_MS,
    'every workflow a left finishing under b',
  );
  t.deepEqual(results, [
    ...range(N).map((i) => ({ before: i, got: `go-${prefix}-r${i}`, after: i + 1 })),
    ...range(N).map((i) => ({ before: i, got: 'slept', after: i + 1 })),
  ]);
  t.log(`all finished ${Date.now() - stoppedAt} ms after a's shutdown`);

  const statuses = await b.listWorkflows({ ids, loadInput: false, loadOutput: false });
  t.deepEqual(statuses.map((s) => [s.status, s.executorId]), ids.map(() => ['SUCCESS', b.executorId]));
  // 'before' ran once (before the shutdown), 'after' once (under b)
  const n = await runs(ids);
  t.deepEqual(ids.map((id) => [n.get(`${id}#before`), n.get(`${id}#after`)]), ids.map(() => [1, 1]));
  t.log(stalls());
});

// Regression: after a registry-only cut, b takes a's workflows over while a's runs go on. a's
// runs are ahead, so they keep winning the checkpoint races; each race b's run lost used to end
// it and re-claim the workflow, counting one more recovery attempt, until workflows that were
// never interrupted but once (the takeover) were dead-lettered (MAX_RECOVERY_ATTEMPTS_EXCEEDED;
// with the default maxRecoveryAttempts, 100, a workflow with about 40 s left to run at the cut).
test("one Skein's registry session terminated: lost checkpoint races do not use up the workflows' recovery attempts", async (t) => {
  const [a, b] = await settledPair(t, 'attempts');
  const N = 8;
  const STEPS = 20;
  const prefix = unique('attempts');
  const handles = await Promise.all(
    range(N).map((i) => a.start(faultStepsFewAttempts, { i, steps: STEPS, stepMs: 150 }, { id: `${prefix}-a${i}` })),
  );
  const ids = handles.map((h) => h.id);
  await waitFor(
    async () => (await recordedSteps(await testDatabase(), ids)).filter((k) => k.endsWith('#s2')).length === ids.length,
    HANG_MS,
    'every workflow past its step s2',
  );
  await cutRegistry(t, a);
  t.log(`at the fault: ${stalls()}`);

  const results = await within(
    Promise.all(handles.map((h) => h.result().catch((err: Error) => err.name))),
    HANG_MS,
    'every workflow ending after the registry session was cut',
  );
  const statuses = await b.listWorkflows({ ids, loadInput: false, loadOutput: false });
  t.log(`status/attempts/executor: ${statuses.map((s) => `${s.status}/${s.attempts}/${s.executorId === b.executorId ? 'b' : 'a'}`).join(', ')}`);
  t.log(stalls());
  t.deepEqual(results, range(N).map((i) => expected(i, STEPS)));
});
