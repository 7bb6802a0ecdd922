// Issue 16, acceptance: takeover of dead executors. Several processes (real child processes, each
// a Skein) serve one queue; one is SIGKILLed mid-run; the live ones of the same app version take
// over its PENDING workflows and finish every workflow, and no checkpointed step runs again:
// each step's runs are in many_runs (recorded by the step as it begins, with the pid that ran
// it), and each step's checkpointed output names the pid whose run was recorded. Timings are
// logged, never asserted (speed is measured in bench/); bounds only catch hangs.
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { Client, type WorkflowHandle, type WorkflowStatus } from '../../runtime/index.ts';
import type { StepsResult } from '../fixtures/many.ts';
import { launch, migrated, sql, testDatabase, unique, waitFor, within } from '../support/helpers.ts';
import { startInLongStep, startManyChild, type ManyChild } from '../support/many-children.ts';

const workflows = new URL('../fixtures/many.ts', import.meta.url);
const STEPS = 5;

const find = <E extends { executorId: string }>(list: E[], id: string) => list.find((e) => e.executorId === id);

test.before(async () => {
  await migrated();
  await sql(`CREATE TABLE many_runs (
    workflow_id text NOT NULL, step int NOT NULL, executor_id text NOT NULL, pid int NOT NULL,
    ran_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
  await sql('CREATE INDEX many_runs_wf ON many_runs (workflow_id)');
});

/** A connection of the test's own, for polling every 10 ms without a connect each time. */
async function connection(t: ExecutionContext): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: await testDatabase() });
  await db.connect();
  t.teardown(() => db.end());
  return db;
}

async function runsSoFar(db: pg.Client, prefix: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM many_runs WHERE starts_with(workflow_id, $1)', [prefix]);
  return rows[0]!.n;
}

/** Step durations of workflow i: 50 to 100 ms. */
const stepMs = (i: number) => 50 + ((i * 7) % 51);

/** Enqueues `count` five-step workflows on `queue` from a Client (no app version: the dequeuer's). */
async function enqueueAll(client: Client, queue: string, prefix: string, count: number): Promise<WorkflowHandle<StepsResult>[]> {
  const handles: WorkflowHandle<StepsResult>[] = [];
  for (let from = 0; from < count; from += 50) {
    const batch = Array.from({ length: Math.min(50, count - from) }, (_, j) => from + j);
    handles.push(
      ...(await Promise.all(
        batch.map((i) =>
          client.enqueue<StepsResult>({ workflow: 'manySteps', queue, id: `${prefix}${i}` }, { i, steps: STEPS, stepMs: stepMs(i) }),
        ),
      )),
    );
  }
  return handles;
}

/** skein's recorded steps of these workflows, as they are now: (workflow, step) -> output digest. */
async function recordedSteps(db: pg.Client, prefix: string): Promise<Map<string, string>> {
  const { rows } = await db.query<{ workflow_id: string; step_id: number; digest: string }>(
    // ordered: ava compares Maps in insertion order, and the plan (so the row order) may change
    // between two reads, e.g. once skein has analyzed the young table
    `SELECT workflow_id, step_id, coalesce(md5(output), '-') AS digest FROM skein.steps WHERE starts_with(workflow_id, $1)
     ORDER BY workflow_id, step_id`,
    [prefix],
  );
  return new Map(rows.map((r) => [`${r.workflow_id}#${r.step_id}`, r.digest]));
}

interface TakeoverTimes {
  /** PENDING or ENQUEUED rows under the dead executor at the first look after the kill */
  heldAtKill: number;
  /** kill -> none of its rows PENDING any more (claimed by another, or put back in the queue) */
  unpendingMs: number;
  /** kill -> none PENDING or ENQUEUED under it: every one claimed by a live executor */
  claimedMs: number;
}

/**
 * Polls skein's workflow_status every ~10 ms from the kill until no workflow of `prefix` is
 * PENDING or ENQUEUED under the dead executor (queued workflows go back to the queue under
 * their old executor, and are its no more once a live one dequeues them).
 */
async function watchTakeover(db: pg.Client, dead: string, prefix: string, killedAt: number): Promise<TakeoverTimes> {
  let heldAtKill: number | undefined;
  let unpendingMs: number | undefined;
  for (;;) {
    const { rows } = await db.query<{ p: number; e: number }>(
      `SELECT count(*) FILTER (WHERE status = 'PENDING')::int AS p, count(*) FILTER (WHERE status = 'ENQUEUED')::int AS e
       FROM skein.workflow_status WHERE executor_id = $1 AND starts_with(id, $2)`,
      [dead, prefix],
    );
    const now = Date.now();
    const { p, e } = rows[0]!;
    heldAtKill ??= p + e;
    if (p === 0) unpendingMs ??= now - killedAt;
    if (p === 0 && e === 0) return { heldAtKill, unpendingMs: unpendingMs!, claimedMs: now - killedAt };
    if (now - killedAt > 120_000) throw new Error(`${p} PENDING and ${e} ENQUEUED workflows still under ${dead} 120 s after its kill`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** SIGKILLs `victim` and, at once, snapshots the recorded steps and watches its work being taken. */
async function killAndWatch(db: pg.Client, watchDb: pg.Client, victim: ManyChild, prefix: string) {
  const killedAt = Date.now();
  victim.process.kill('SIGKILL');
  const [snapshot, times] = await Promise.all([recordedSteps(db, prefix), watchTakeover(watchDb, victim.executorId, prefix, killedAt)]);
  await within(victim.exited, 30_000, 'the killed child exiting');
  return { killedAt, snapshot, times };
}

interface Run {
  workflow_id: string;
  step: number;
  pid: number;
  ran_at: number;
}

async function runsOf(prefix: string): Promise<Run[]> {
  const rows = await sql<{ workflow_id: string; step: number; pid: number; ran_at: string }>(
    `SELECT workflow_id, step, pid, (extract(epoch FROM ran_at) * 1000)::float8 AS ran_at
     FROM many_runs WHERE starts_with(workflow_id, $1) ORDER BY ran_at`,
    [prefix],
  );
  return rows.map((r) => ({ ...r, ran_at: Number(r.ran_at) }));
}

/**
 * Everything "completed steps never run again" means, for workflows whose step k's checkpointed
 * run was by pid by[k], with the processes in `killed` SIGKILLed along the way. Returns the
 * violations found (none is right):
 * - every step ran, and the run that was checkpointed is one run of the pid it names;
 * - no step ran after the run that was checkpointed (so one a killed process had checkpointed
 *   by its kill never ran again);
 * - a step ran more than once only because a killed process was running it when it died: every
 *   other run is by a killed process, at most one step per killed process and workflow, and
 *   that step is the last one the killed process ran in that workflow (the one in flight).
 */
function onceViolations(ids: string[], by: Map<string, number[]>, runs: Run[], killed: Set<number>): string[] {
  const problems: string[] = [];
  const byWorkflow = new Map<string, Run[]>();
  for (const r of runs) byWorkflow.set(r.workflow_id, [...(byWorkflow.get(r.workflow_id) ?? []), r]);
  for (const id of ids) {
    const recorded = by.get(id);
    const mine = byWorkflow.get(id) ?? [];
    if (!recorded || recorded.length !== STEPS) {
      problems.push(`${id}: its result names ${recorded?.length} checkpointed steps`);
      continue;
    }
    for (const r of mine) if (r.step >= STEPS) problems.push(`${id}: a run of step ${r.step}, which does not exist`);
    for (let k = 0; k < STEPS; k++) {
      const stepRuns = mine.filter((r) => r.step === k);
      if (stepRuns.length === 0) problems.push(`${id} step ${k}: never ran`);
      const byRecorder = stepRuns.filter((r) => r.pid === recorded[k]).length;
      if (byRecorder !== 1) problems.push(`${id} step ${k}: checkpointed from pid ${recorded[k]}, which ran it ${byRecorder} times`);
      const checkpointed = stepRuns.find((r) => r.pid === recorded[k]);
      const later = checkpointed ? stepRuns.filter((r) => r.ran_at > checkpointed.ran_at) : [];
      if (later.length > 0) {
        problems.push(`${id} step ${k}: ran again (pid ${later.map((r) => r.pid)}) after the run that was checkpointed (pid ${recorded[k]})`);
      }
      for (const r of stepRuns) {
        if (r.pid !== recorded[k] && !killed.has(r.pid)) problems.push(`${id} step ${k}: ran again by live pid ${r.pid}`);
      }
    }
    for (const pid of killed) {
      const ranHere = mine.filter((r) => r.pid === pid);
      if (ranHere.length === 0) continue;
      const wasted = ranHere.filter((r) => recorded[r.step] !== pid);
      if (wasted.length > 1) problems.push(`${id}: ${wasted.length} runs by killed pid ${pid} were not checkpointed (steps ${wasted.map((r) => r.step)})`);
      const last = Math.max(...ranHere.map((r) => r.step));
      for (const r of wasted) {
        if (r.step !== last) problems.push(`${id}: killed pid ${pid} ran step ${r.step} unrecorded, but went on to step ${last}`);
      }
    }
  }
  return problems;
}

/** For each workflow the killed pid ran a step of: the first run after the kill by another; the last of those. */
function lastOrphanRestart(runs: Run[], dead: number, killedAt: number): { orphans: number; lastMs: number | null } {
  const touched = new Set(runs.filter((r) => r.pid === dead).map((r) => r.workflow_id));
  const firstAfter = new Map<string, number>();
  for (const r of runs) {
    if (!touched.has(r.workflow_id) || r.pid === dead || r.ran_at < killedAt) continue;
    firstAfter.set(r.workflow_id, Math.min(firstAfter.get(r.workflow_id) ?? Infinity, r.ran_at));
  }
  const times = [...firstAfter.values()];
  return { orphans: times.length, lastMs: times.length ? Math.round(Math.max(...times) - killedAt) : null };
}

/** The checks every run ends with: all SUCCESS with the right results, once-only steps. */
async function checkAll(
  t: ExecutionContext,
  client: Client,
  handles: WorkflowHandle<StepsResult>[],
  prefix: string,
  killed: ManyChild[],
  kills: { killedAt: number; snapshot: Map<string, string> }[],
): Promise<{ statuses: WorkflowStatus[]; runs: Run[] }> {
  const results = await within(Promise.all(handles.map((h) => h.result())), 120_000, `all ${handles.length} workflows finishing`);
  t.deepEqual(
    results.map((r) => r.values).filter((v, i) => JSON.stringify(v) !== JSON.stringify(Array.from({ length: STEPS }, (_, k) => i * 10 + k))),
    [],
    'every result is right',
  );
  const statuses = await client.listWorkflows({ idPrefix: prefix, loadInput: false, loadOutput: true });
  t.is(statuses.length, handles.length);
  t.deepEqual(statuses.filter((s) => s.status !== 'SUCCESS').map((s) => `${s.id}: ${s.status}`), []);
  const runs = await runsOf(prefix);
  const by = new Map(statuses.map((s) => [s.id, (s.output as StepsResult).by]));
  const killedPids = new Set(killed.map((k) => k.pid));
  const violations = onceViolations(statuses.map((s) => s.id), by, runs, killedPids);
  // a workflow ends under a killed executor only if that one finished it as it died (its last
  // write may reach the server a moment after the kill: the server stamps completed_at)
  const finishedByDead = statuses
    .filter((s) => killed.some((k, i) => k.executorId === s.executorId && !(s.completedAt!.getTime() < kills[i]!.killedAt + 2000)))
    .map((s) => `${s.id}: ${s.executorId}, completed ${s.completedAt?.toISOString()}`);
  const attempts = statuses.filter((s) => s.attempts < 1 || s.attempts > 1 + killed.length).map((s) => `${s.id}: attempts ${s.attempts}`);
  if (violations.length + finishedByDead.length + attempts.length > 0) {
    // what happened to the workflows in question, for the report
    const odd = new Set([...violations, ...finishedByDead, ...attempts].map((line) => line.split(/[ :]/)[0]!));
    const pidName = (pid: number) => [...killed].find((k) => k.pid === pid) ? `${pid}(killed)` : String(pid);
    for (const id of [...odd].slice(0, 10)) {
      const st = statuses.find((s) => s.id === id);
      t.log(`${id}: ${st?.executorId} attempts ${st?.attempts} by ${JSON.stringify(by.get(id))} runs ` +
        runs.filter((r) => r.workflow_id === id).map((r) => `s${r.step}@${pidName(r.pid)}@${new Date(r.ran_at).toISOString().slice(17, 23)}`).join(' '));
    }
    t.log(`kills at ${kills.map((k) => new Date(k.killedAt).toISOString()).join(', ')}`);
  }
  t.deepEqual(violations, [], 'completed steps never ran again');
  t.deepEqual(finishedByDead, [], 'no workflow finished under a dead executor');
  t.deepEqual(attempts, [], 'each workflow ran once, plus once per kill at most');

  // what was recorded at each kill is still there, unchanged, and never ran after the kill;
  // what a killed process had checkpointed by then ran exactly once
  const now = await recordedSteps(await connection(t), prefix);
  for (const [i, { snapshot, killedAt }] of kills.entries()) {
    const changed = [...snapshot].filter(([key, digest]) => now.get(key) !== digest).map(([key]) => key);
    t.deepEqual(changed, [], `steps recorded at kill ${i + 1} are unchanged`);
    const again = runs
      .filter((r) => r.ran_at >= killedAt && snapshot.has(`${r.workflow_id}#${r.step}`))
      .map((r) => `${r.workflow_id} step ${r.step}: ran by pid ${r.pid} ${Math.round(r.ran_at - killedAt)} ms after the kill`);
    t.deepEqual(again, [], `no step recorded at kill ${i + 1} ran after it`);
    // among them, every one the killed process had checkpointed itself: by it, once
    const pid = killed[i]!.pid;
    const ownRuns = [...snapshot.keys()]
      .filter((key) => by.get(key.split('#')[0]!)?.[Number(key.split('#')[1])] === pid)
      .filter((key) => runs.filter((r) => `${r.workflow_id}#${r.step}` === key && r.pid === pid).length !== 1);
    t.deepEqual(ownRuns, [], `steps checkpointed by the process of kill ${i + 1} ran once there`);
  }
  return { statuses, runs };
}

function shares(statuses: WorkflowStatus[], children: ManyChild[]): string {
  return children.map((c) => `${c.executorId}: ${statuses.filter((s) => s.executorId === c.executorId).length}`).join(', ');
}

/**
 * Three children of one new app version serving one new queue, 300 five-step workflows
 * enqueued there by a Client, and two connections to watch them with.
 */
async function threeRunning300(t: ExecutionContext, tag: string) {
  const appVersion = unique(`takeover-${tag}`);
  const queue = unique('many');
  const prefix = `${unique(tag)}-`;
  const children = await Promise.all([0, 1, 2].map(() => startManyChild(t, { appVersion, queues: [{ name: queue }] })));
  t.log(`children: ${children.map((c) => c.executorId).join(', ')}`);
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const db = await connection(t);
  const watchDb = await connection(t);
  const handles = await enqueueAll(client, queue, prefix, 300);
  return { prefix, children, client, db, watchDb, handles };
}

test.serial('ACCEPTANCE: 3 processes, one SIGKILLed mid-run: the other two finish all 300 workflows, no completed step runs again', async (t) => {
  t.timeout(300_000);
  const { prefix, children, client, db, watchDb, handles } = await threeRunning300(t, 'a');
  t.is(new Set(children.map((c) => c.executorId)).size, 3, 'three distinct default executor IDs');
  // a quarter of the 1,500 steps under way
  await waitFor(async () => (await runsSoFar(db, prefix)) >= 375, 120_000, 'a quarter of the steps running');
  const [victim, ...survivors] = children;
  const { killedAt, snapshot, times } = await killAndWatch(db, watchDb, victim!, prefix);

  const { statuses, runs } = await checkAll(t, client, handles, prefix, [victim!], [{ killedAt, snapshot }]);
  const orphans = statuses.filter((s) => s.attempts === 2);
  t.true(orphans.length > 0, 'the killed process had PENDING workflows');
  t.deepEqual(orphans.filter((s) => !survivors.some((c) => c.executorId === s.executorId)).map((s) => s.id), [], 'the survivors took them');
  for (const c of children) t.true(runs.some((r) => r.pid === c.pid), `${c.executorId} ran steps`);

  const restart = lastOrphanRestart(runs, victim!.pid, killedAt);
  const rerun = runs.length - statuses.length * STEPS;
  t.log(`300 workflows x ${STEPS} steps on 3 processes; killed ${victim!.executorId} at ${runs.filter((r) => r.ran_at < killedAt).length} step runs`);
  t.log(`held by it at the kill: ${times.heldAtKill}; recovered (attempts 2): ${orphans.length}; steps run twice: ${rerun}`);
  t.log(`kill -> none of its workflows PENDING: ${times.unpendingMs} ms; kill -> all claimed by live executors: ${times.claimedMs} ms`);
  t.log(`kill -> last orphan running a step again: ${restart.lastMs} ms (${restart.orphans} orphans ran steps after the kill)`);
  t.log(`finished by: ${shares(statuses, children)}`);

  const listed = await client.listExecutors();
  t.false(listed.find((e) => e.executorId === victim!.executorId)?.alive, 'the killed executor is listed dead');
  for (const c of survivors) t.true(listed.find((e) => e.executorId === c!.executorId)?.alive, `${c!.executorId} is listed alive`);
});

test.serial('3 processes, 2 SIGKILLed in turn: the last one completes everything, no completed step runs again', async (t) => {
  t.timeout(300_000);
  const { prefix, children, client, db, watchDb, handles } = await threeRunning300(t, 'b');
  await waitFor(async () => (await runsSoFar(db, prefix)) >= 300, 120_000, 'a fifth of the steps running');
  const first = children[0]!;
  const one = await killAndWatch(db, watchDb, first, prefix);
  // its work was taken over; a while later, kill whichever survivor holds more workflows
  const atFirstTakeover = await runsSoFar(db, prefix);
  await waitFor(async () => (await runsSoFar(db, prefix)) >= Math.min(900, atFirstTakeover + 150), 120_000, 'the survivors running on');
  const held = await sql<{ executor_id: string; n: number }>(
    `SELECT executor_id, count(*)::int AS n FROM skein.workflow_status
     WHERE starts_with(id, $1) AND status = 'PENDING' GROUP BY executor_id`,
    [prefix],
  );
  const heldBy = (c: ManyChild) => held.find((h) => h.executor_id === c.executorId)?.n ?? 0;
  const [second, last] = heldBy(children[1]!) >= heldBy(children[2]!) ? [children[1]!, children[2]!] : [children[2]!, children[1]!];
  const two = await killAndWatch(db, watchDb, second, prefix);

  const { statuses, runs } = await checkAll(t, client, handles, prefix, [first, second], [one, two]);
  const recovered = statuses.filter((s) => s.attempts >= 2);
  t.true(recovered.length > 0);
  t.deepEqual(
    statuses.filter((s) => s.completedAt && s.completedAt.getTime() > two.killedAt + 1000 && s.executorId !== last.executorId).map((s) => s.id),
    [],
    'what finished well after the second kill finished on the last process',
  );
  t.true(runs.some((r) => r.pid === last.pid && r.ran_at > two.killedAt), 'the last process ran on after the second kill');
  const twice = statuses.filter((s) => s.attempts === 3);

  for (const [n, kill, victim] of [[1, one, first], [2, two, second]] as const) {
    const restart = lastOrphanRestart(runs, victim.pid, kill.killedAt);
    t.log(
      `kill ${n} (${victim.executorId}): held ${kill.times.heldAtKill}; -> none PENDING ${kill.times.unpendingMs} ms; ` +
        `-> all claimed ${kill.times.claimedMs} ms; -> last orphan running again ${restart.lastMs} ms (${restart.orphans} orphans)`,
    );
  }
  t.log(`recovered: ${recovered.length} (twice: ${twice.length}); steps run twice: ${runs.length - statuses.length * STEPS}`);
  t.log(`finished by: ${shares(statuses, children)}`);
});

test.serial('an executor of another app version never takes over; one of the same version does', async (t) => {
  t.timeout(300_000);
  const v1 = unique('v1');
  const v2 = unique('v2');
  const takeover = { leaseMs: 2000 };
  const [x, y] = await Promise.all([
    startManyChild(t, { appVersion: v1, takeover }),
    startManyChild(t, { appVersion: v2, takeover }),
  ]);
  const db = await connection(t);
  // direct starts (no queue) on X, each 3 steps, the middle one long: killed mid-step 1
  const { prefix, ids } = await startInLongStep(x, 'c', 6, 4000);
  const before = await recordedSteps(db, prefix);
  await x.kill();
  const killedAt = Date.now();

  const pendingUnderX = async () =>
    (await sql<{ id: string }>(`SELECT id FROM skein.workflow_status WHERE starts_with(id, $1) AND status = 'PENDING' AND executor_id = $2 ORDER BY id`, [
      prefix, x.executorId,
    ])).map((r) => r.id);
  t.deepEqual(await pendingUnderX(), [...ids].sort(), "X's six workflows are PENDING under X");

  // Y (another version, takeover on, lease 2 s) stays up for 4 leases: nothing moves
  await waitFor(async () => !(await y.ask<{ executorId: string; alive: boolean }[]>({ op: 'listExecutors' })).find((e) => e.executorId === x.executorId)?.alive, 30_000, 'X listed dead');
  await new Promise((r) => setTimeout(r, Math.max(0, killedAt + 4 * takeover.leaseMs - Date.now())));
  t.deepEqual(await pendingUnderX(), [...ids].sort(), "X's workflows still PENDING under X, 4 leases after its kill");
  t.deepEqual(await recordedSteps(db, prefix), before, 'no step was recorded meanwhile');
  t.is((await sql('SELECT 1 FROM many_runs WHERE starts_with(workflow_id, $1) AND pid <> $2', [prefix, x.pid])).length, 0, 'no step ran elsewhere');
  const listed = await y.ask<{ executorId: string; alive: boolean; appVersion: string }[]>({ op: 'listExecutors' });
  t.like(listed.find((e) => e.executorId === y.executorId), { alive: true, appVersion: v2 });
  t.like(listed.find((e) => e.executorId === x.executorId), { alive: false, appVersion: v1 });

  // a process of X's version (here, in the test process) launches and takes them over
  const launching = Date.now();
  const z = await launch(t, { workflows, appVersion: v1, takeover });
  const launched = Date.now();
  await waitFor(async () => (await pendingUnderX()).length === 0, 60_000, "X's workflows claimed by Z");
  const claimed = Date.now();
  const results = await within(Promise.all(ids.map((id) => z.retrieve<StepsResult>(id).result())), 60_000, "X's workflows finishing on Z");
  t.log(`Z's launch took ${launched - launching} ms; its launch returned -> X's 6 workflows claimed: ${claimed - launched} ms; -> all finished: ${Date.now() - launched} ms`);
  for (const [i, r] of results.entries()) {
    t.deepEqual(r.values, [i * 10, i * 10 + 1, i * 10 + 2]);
    t.deepEqual(r.by, [x.pid, process.pid, process.pid], `workflow ${i}: step 0 checkpointed by X, steps 1 and 2 by Z`);
  }
  const statuses = await z.listWorkflows({ ids, loadInput: false, loadOutput: false });
  t.deepEqual(statuses.map((s) => [s.status, s.executorId, s.appVersion, s.attempts]), ids.map(() => ['SUCCESS', z.executorId, v1, 2]));
  const runs = await runsOf(prefix);
  t.deepEqual(
    onceViolationsOfThree(ids, results, runs, x.pid),
    [],
    'step 0 ran once, step 1 twice (X cut it short), step 2 once',
  );
  t.is(runs.filter((r) => r.pid === y.pid).length, 0, 'Y ran nothing');
  // Z marked X taken over: listed dead, and Y still alive
  const after = await z.listExecutors();
  t.like(after.find((e) => e.executorId === x.executorId), { alive: false });
  t.like(after.find((e) => e.executorId === z.executorId), { alive: true, appVersion: v1, pid: process.pid });
});

/** The runs of the three-step workflows of the app-version test, as "step: pids". */
function onceViolationsOfThree(ids: string[], results: StepsResult[], runs: Run[], x: number): string[] {
  const problems: string[] = [];
  for (const [i, id] of ids.entries()) {
    const mine = runs.filter((r) => r.workflow_id === id);
    const pids = (k: number) => mine.filter((r) => r.step === k).map((r) => r.pid);
    const want = [[x], [x, process.pid], [process.pid]];
    for (let k = 0; k < 3; k++) {
      if (JSON.stringify(pids(k)) !== JSON.stringify(want[k])) problems.push(`${id} step ${k}: ran by ${pids(k)}, want ${want[k]}`);
    }
    if (results[i]!.by[0] !== x) problems.push(`${id}: step 0 was not checkpointed by X`);
  }
  return problems;
}

test.serial('a live process whose launch outlasts its lease is not taken for dead while it launches', async (t) => {
  // Its executor row is written early in launch; a launch that takes longer than the lease (a
  // workflows module slow to load on threads, a long launch recovery) must not look like a
  // process whose heartbeat stopped: a watcher would end its registry session and take over the
  // work it is about to run.
  t.timeout(180_000);
  const appVersion = unique('slow');
  const takeover = { leaseMs: 2000 };
  const watcher = await startManyChild(t, { appVersion, takeover });
  const executorId = unique('slow-exec');
  const db = await connection(t);
  const seen: { backendPid: number; ended: boolean; alive: boolean; at: number }[] = [];
  let launched = false;
  const sample = async () => {
    const { rows } = await db.query<{ backend_pid: number; ended: boolean; alive: boolean }>(
      `SELECT e.backend_pid, e.ended_at IS NOT NULL AS ended,
         e.ended_at IS NULL AND e.last_seen_at >= now() - make_interval(secs => e.lease_ms / 1000.0)
           AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.pid = e.backend_pid
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid::bigint = ((e.lock_key >> 32) & 4294967295) AND l.objid::bigint = (e.lock_key & 4294967295)) AS alive
       FROM skein.executors e WHERE e.executor_id = $1`,
      [executorId],
    );
    if (rows[0]) seen.push({ backendPid: rows[0].backend_pid, ended: rows[0].ended, alive: rows[0].alive, at: Date.now() });
  };
  const sampling = (async () => {
    let after = 0;
    while (!launched || after++ < 40) {
      await sample();
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const slow = await startManyChild(t, { appVersion, takeover, executorId }, { module: 'many-slow.ts', env: { MANY_SLOW_MS: '4000' } });
  launched = true;
  await sampling;
  const first = seen[0];
  t.truthy(first, 'its row was seen while it launched');
  t.log(`sampled ${seen.length} times over ${seen.length ? seen.at(-1)!.at - first!.at : 0} ms from its registration; watcher ${watcher.executorId}`);
  const dead = seen.filter((s) => !s.alive).map((s) => `${s.at - first!.at} ms`);
  t.deepEqual(dead, [], 'never listed dead while it launched and after');
  t.deepEqual([...new Set(seen.map((s) => s.backendPid))], [first!.backendPid], 'its registry session was never ended');
  t.false(seen.some((s) => s.ended), 'never marked taken over');
  t.like(find(await watcher.ask<{ executorId: string; alive: boolean }[]>({ op: 'listExecutors' }), slow.executorId), { alive: true });
});

test.serial('a ring of live executors watching each other makes no deadlocks in Postgres', async (t) => {
  // Each watcher waits for the lock of the next while holding its own: around the ring, that
  // is a cycle of lock waits, which Postgres breaks by failing one of them ("deadlock detected",
  // an ERROR in the server log and pg_stat_database.deadlocks) once deadlock_timeout (1 s) passes.
  t.timeout(120_000);
  const appVersion = unique('ring');
  const errors: string[] = [];
  const logger = {
    debug: (m: string, f?: Record<string, unknown>) => void (/deadlock/i.test(JSON.stringify(f ?? {})) && errors.push(`${m} ${JSON.stringify(f)}`)),
    info() {},
    warn: (m: string, f?: Record<string, unknown>) => void (/deadlock/i.test(JSON.stringify(f ?? {})) && errors.push(`${m} ${JSON.stringify(f)}`)),
    error: (m: string, f?: Record<string, unknown>) => void errors.push(`${m} ${JSON.stringify(f)}`),
  };
  const deadlocks = async () =>
    (await sql<{ n: string }>(`SELECT pg_stat_clear_snapshot(), deadlocks::text AS n FROM pg_stat_database WHERE datname = current_database()`))[0]!.n;
  const before = await deadlocks();
  const [a, b] = await Promise.all([launch(t, { workflows, appVersion, takeover: true, logger }), launch(t, { workflows, appVersion, takeover: true, logger })]);
  await new Promise((r) => setTimeout(r, 8000));
  t.log(`pg_stat_database.deadlocks: ${before} before, ${await deadlocks()} 8 s later (stats may lag)`);
  t.deepEqual(errors, [], 'no lock wait of the ring failed');
  t.like(find(await a.listExecutors(), b.executorId), { alive: true });
});


test.serial("an executor the ring misses (its watcher has takeover off) is taken over by another's sweep", async (t) => {
  // Ring order is ID order: b (takeover on) watches a (takeover off), which watches nobody, so
  // nothing waits on v's lock. When v dies, only the sweep (executors silent for two of their
  // own leases, tried every lease of the sweeper's) finds it: v has takeover off, so its lease
  // is the default 10 s, and the claim comes about 20 s after the kill.
  t.timeout(180_000);
  const appVersion = unique('sweep');
  const takeover = { leaseMs: 2000 };
  const base = unique('sw');
  const b = await startManyChild(t, { appVersion, takeover, executorId: `${base}-1` });
  await startManyChild(t, { appVersion, takeover: false, executorId: `${base}-2` });
  const v = await startManyChild(t, { appVersion, takeover: false, executorId: `${base}-3` });
  const { ids } = await startInLongStep(v, 'sw', 3, 4000);
  await v.kill();
  const killedAt = Date.now();
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const owners = async () => (await client.listWorkflows({ ids, loadInput: false, loadOutput: false })).map((s) => s.executorId);
  await waitFor(async () => (await owners()).every((o) => o === b.executorId), 90_000, "v's workflows claimed by b");
  t.log(`kill -> v's workflows claimed by b's sweep: ${Date.now() - killedAt} ms`);
  const results = await within(Promise.all(ids.map((id) => client.retrieve<StepsResult>(id).result())), 90_000, "v's workflows finishing");
  t.log(`kill -> all of v's workflows finished elsewhere: ${Date.now() - killedAt} ms (lease ${takeover.leaseMs} ms)`);
  for (const [i, r] of results.entries()) t.deepEqual(r.values, [i * 10, i * 10 + 1, i * 10 + 2]);
  const statuses = await client.listWorkflows({ ids, loadInput: false, loadOutput: false });
  t.deepEqual(statuses.map((s) => [s.status, s.executorId, s.attempts]), ids.map(() => ['SUCCESS', b.executorId, 2]), 'b took them');
  t.like((await client.listExecutors()).find((e) => e.executorId === v.executorId), { alive: false });
});
