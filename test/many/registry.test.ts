// Issue 16, acceptance: the executor registry. Each Skein registers in <schema>.executors and
// holds a lock keyed by its executorId while it lives: two live processes never share an ID (the
// second launch is a ConfigError naming the first), a process SIGKILLed frees its ID at once,
// the default ID is unique per process, and listExecutors() tells the live from the dead.
import test from 'ava';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Client, ConfigError, Skein, type ExecutorInfo, type SkeinConfig } from '../../runtime/index.ts';
import type { StepsResult } from '../fixtures/many.ts';
import { migrated, sql, testDatabase, unique, waitFor, within } from '../support/helpers.ts';
import { spawnManyChild, startInLongStep, startManyChild } from '../support/many-children.ts';

const workflows = new URL('../fixtures/many.ts', import.meta.url);

test.before(async () => {
  await migrated();
  await sql(`CREATE TABLE many_runs (
    workflow_id text NOT NULL, step int NOT NULL, executor_id text NOT NULL, pid int NOT NULL,
    ran_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
});

/** A Skein in this process, shut down when the test ends (unlike helpers' launch, no default executorId). */
async function launchHere(t: import('ava').ExecutionContext, config: Partial<SkeinConfig> = {}): Promise<Skein> {
  const skein = await Skein.launch({ workflows, databaseUrl: await testDatabase(), threads: 1, ...config });
  t.teardown(() => skein.shutdown({ timeoutMs: 2000 }));
  return skein;
}

const find = (list: ExecutorInfo[], executorId: string) => list.find((e) => e.executorId === executorId);

/** What a default executorId looks like for process `pid` (runtime/registry.ts: host, pid, random). */
const defaultIdOf = (pid: number) => new RegExp(`^${hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 63).replace(/\./g, '\\.')}-${pid}-[0-9a-f]{8}$`);

test('a second live process with the same executorId: its launch is a ConfigError naming the first', async (t) => {
  const executorId = unique('dup');
  const appVersion = unique('reg');
  const holder = await startManyChild(t, { executorId, appVersion });

  // the test process tries the ID the child holds
  const attempt = Skein.launch({ workflows, databaseUrl: await testDatabase(), executorId, appVersion, threads: 1 });
  attempt.then((s) => t.teardown(() => s.shutdown({ timeoutMs: 2000 })), () => {});
  const err = await t.throwsAsync(attempt, { instanceOf: ConfigError });
  t.true(err!.message.includes(executorId), err!.message);
  t.true(err!.message.includes(`pid ${holder.pid}`), err!.message);
  t.true(err!.message.includes(hostname()), err!.message);

  // the holder is unharmed: still registered as itself, alive
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  t.like(find(await client.listExecutors(), executorId), { alive: true, pid: holder.pid, host: hostname(), appVersion });
  t.is((await sql('SELECT pid FROM skein.executors WHERE executor_id = $1', [executorId]))[0]?.pid, holder.pid);

  // and the other way round: a child trying an ID this process holds
  const mine = await launchHere(t, { executorId: unique('mine'), appVersion: unique('reg') });
  const { first } = await spawnManyChild(t, { executorId: mine.executorId, appVersion: mine.appVersion });
  const said = await first;
  t.is(said.kind, 'failed');
  if (said.kind === 'failed') {
    t.is(said.name, 'ConfigError');
    t.true(said.message.includes(`pid ${process.pid}`), said.message);
  }
  t.like(find(await client.listExecutors(), mine.executorId), { alive: true, pid: process.pid });
});

test('relaunching with the executorId of a SIGKILLed process succeeds at once and recovers its work', async (t) => {
  const executorId = unique('phoenix');
  // its own version: no other executor here takes its work before the relaunch does
  const appVersion = unique('reg');
  const child = await startManyChild(t, { executorId, appVersion });
  const { prefix, ids } = await startInLongStep(child, 'r', 3, 3000);
  await child.kill();

  const launching = Date.now();
  const skein = await launchHere(t, { executorId, appVersion });
  t.log(`relaunch with the killed process's executorId: launched in ${Date.now() - launching} ms`);
  t.is(skein.executorId, executorId);
  const results = await within(Promise.all(ids.map((id) => skein.retrieve<StepsResult>(id).result())), 60_000, 'the recovered workflows finishing');
  for (const [i, r] of results.entries()) {
    t.deepEqual(r.values, [i * 10, i * 10 + 1, i * 10 + 2]);
    t.deepEqual(r.by, [child.pid, process.pid, process.pid]);
  }
  const statuses = await skein.listWorkflows({ ids, loadInput: false, loadOutput: false });
  t.deepEqual(statuses.map((s) => [s.status, s.executorId, s.attempts]), ids.map(() => ['SUCCESS', executorId, 2]));
  // step 0 ran once (checkpointed before the kill), step 1 twice (cut short), step 2 once
  const runs = await sql<{ workflow_id: string; step: number; pid: number }>(
    'SELECT workflow_id, step, pid FROM many_runs WHERE starts_with(workflow_id, $1) ORDER BY ran_at',
    [prefix],
  );
  for (const id of ids) {
    const pids = (k: number) => runs.filter((r) => r.workflow_id === id && r.step === k).map((r) => r.pid);
    t.deepEqual([pids(0), pids(1), pids(2)], [[child.pid], [child.pid, process.pid], [process.pid]], id);
  }
  // the registry row is this process's now
  t.like(find(await skein.listExecutors(), executorId), { alive: true, pid: process.pid, appVersion });
});

test('the default executorId is unique per process; SKEIN_EXECUTOR_ID is honoured', async (t) => {
  // (the test process's own environment is not changed: tests of this file run concurrently.
  // Each process has an app version of its own: no takeover ring here; liveness is the
  // listExecutors test's subject)
  if (!process.env.SKEIN_EXECUTOR_ID) {
    const [a, b] = await Promise.all([launchHere(t, { appVersion: unique('reg') }), launchHere(t, { appVersion: unique('reg') })]);
    t.not(a.executorId, b.executorId, 'two Skeins of one process get distinct IDs');
    t.regex(a.executorId, defaultIdOf(process.pid));
    t.regex(b.executorId, defaultIdOf(process.pid));
    const listed = await a.listExecutors();
    t.like(find(listed, a.executorId), { pid: process.pid, appVersion: a.appVersion, host: hostname() });
    t.like(find(listed, b.executorId), { pid: process.pid, appVersion: b.appVersion, host: hostname() });
  } else {
    t.log('SKEIN_EXECUTOR_ID is set in the test environment: the in-process defaults are checked in children only');
  }

  const fromEnv = unique('env-exec');
  const [named, plain1, plain2] = await Promise.all([
    startManyChild(t, { appVersion: unique('reg') }, { env: { SKEIN_EXECUTOR_ID: fromEnv } }),
    startManyChild(t, { appVersion: unique('reg') }, { env: { SKEIN_EXECUTOR_ID: '' } }),
    startManyChild(t, { appVersion: unique('reg') }, { env: { SKEIN_EXECUTOR_ID: '' } }),
  ]);
  t.is(named.executorId, fromEnv);
  t.regex(plain1.executorId, defaultIdOf(plain1.pid));
  t.regex(plain2.executorId, defaultIdOf(plain2.pid));
  t.not(plain1.executorId, plain2.executorId);
  const listed = await named.ask<ExecutorInfo[]>({ op: 'listExecutors' });
  t.like(find(listed, fromEnv), { pid: named.pid, appVersion: named.appVersion });
  t.like(find(listed, plain1.executorId), { pid: plain1.pid });
  t.like(find(listed, plain2.executorId), { pid: plain2.pid });

  // an explicit executorId wins over the environment
  const explicit = unique('explicit');
  const both = await startManyChild(t, { appVersion: unique('reg'), executorId: explicit }, { env: { SKEIN_EXECUTOR_ID: unique('ignored') } });
  t.is(both.executorId, explicit);
});

test('listExecutors from a Skein and from a Client: live ones alive, a SIGKILLed one and a shut-down one not', async (t) => {
  const [va, vb, vs] = [unique('va'), unique('vb'), unique('vs')];
  const [a, b] = await Promise.all([startManyChild(t, { appVersion: va }), startManyChild(t, { appVersion: vb })]);
  const skein = await launchHere(t, { appVersion: vs });
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const host = hostname();

  const expectLive = (list: ExecutorInfo[], from: string) => {
    for (const [id, pid, appVersion] of [[a.executorId, a.pid, va], [b.executorId, b.pid, vb], [skein.executorId, process.pid, vs]] as const) {
      const e = find(list, id);
      t.like(e, { executorId: id, alive: true, host, pid, appVersion }, `${id} as listed by ${from}`);
      t.true(e!.startedAt instanceof Date && e!.lastSeenAt instanceof Date, `${from}: dates`);
      t.true(e!.startedAt.getTime() <= e!.lastSeenAt.getTime(), `${from}: started before last seen`);
      t.deepEqual(Object.keys(e!).sort(), ['alive', 'appVersion', 'executorId', 'host', 'lastSeenAt', 'pid', 'startedAt']);
    }
  };
  expectLive(await skein.listExecutors(), 'the Skein');
  expectLive(await client.listExecutors(), 'the Client');
  const fromChild = await b.ask<(Omit<ExecutorInfo, 'startedAt' | 'lastSeenAt'> & { startedAt: string })[]>({ op: 'listExecutors' });
  t.like(fromChild.find((e) => e.executorId === a.executorId), { alive: true, pid: a.pid, appVersion: va, host });

  // SIGKILL: listed dead (the lock went with its connection; no lease to wait for)
  const killedAt = Date.now();
  await a.kill();
  await waitFor(async () => find(await client.listExecutors(), a.executorId)?.alive === false, 30_000, 'the killed one listed dead');
  t.log(`SIGKILL -> listed dead: ${Date.now() - killedAt} ms`);
  t.like(find(await skein.listExecutors(), a.executorId), { alive: false, pid: a.pid, appVersion: va });
  t.like(find(await client.listExecutors(), b.executorId), { alive: true });

  // a clean shutdown: listed dead at once
  await b.stop();
  t.like(find(await client.listExecutors(), b.executorId), { alive: false, pid: b.pid, appVersion: vb });
  t.like(find(await skein.listExecutors(), b.executorId), { alive: false });
  t.like(find(await client.listExecutors(), skein.executorId), { alive: true, pid: process.pid });

  // and this process's own, after its shutdown, from the Client
  await skein.shutdown({ timeoutMs: 2000 });
  t.like(find(await client.listExecutors(), skein.executorId), { alive: false, pid: process.pid, appVersion: vs });
});

test('a bad takeover option is a ConfigError naming the option, and launch writes nothing', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ leaseMs: 0 }, /takeover\.leaseMs/],
    [{ leaseMs: -1000 }, /takeover\.leaseMs/],
    [{ leaseMs: 1.5 }, /takeover\.leaseMs/],
    [{ leaseMs: '10000' }, /takeover\.leaseMs/],
    [{ leaseMs: Number.NaN }, /takeover\.leaseMs/],
    [{ lease: 5 }, /takeover\.lease\b/],
    ['yes', /takeover/],
    [1, /takeover/],
    [null, /takeover/],
  ];
  for (const [takeover, names] of cases) {
    const executorId = unique('bad');
    // a schema of its own: nothing at all is created there by a launch that is refused
    const schema = `bad_${randomBytes(4).toString('hex')}`;
    const attempt = Skein.launch({ workflows, databaseUrl: await testDatabase(), executorId, schema, takeover } as unknown as SkeinConfig);
    attempt.then((s) => t.teardown(() => s.shutdown({ timeoutMs: 2000 })), () => {});
    const err = await t.throwsAsync(attempt, { instanceOf: ConfigError }, `takeover: ${JSON.stringify(takeover)}`);
    t.regex(err?.message ?? '', names, `takeover: ${JSON.stringify(takeover)}`);
    t.deepEqual(await sql('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]), [], `no schema for ${JSON.stringify(takeover)}`);
    t.deepEqual(await sql('SELECT 1 FROM skein.executors WHERE executor_id = $1', [executorId]), []);
  }
  // the good ones launch
  for (const takeover of [true, false, {}, { leaseMs: 2000 }]) {
    const s = await launchHere(t, { executorId: unique('good'), appVersion: unique('reg'), takeover });
    t.like(find(await s.listExecutors(), s.executorId), { executorId: s.executorId, pid: process.pid });
    await s.shutdown({ timeoutMs: 2000 });
  }
});

test('an executor is listed alive from its registration on, through a launch longer than its lease', async (t) => {
  // alive = holds its lock and heartbeat within its lease. A launch registers early and may take
  // longer than the lease (a module slow to load on threads, a long launch recovery): that must
  // not make the launching executor look dead, to listExecutors or to the watchers that take
  // over the work of executors whose heartbeat stopped. many-slow.ts takes 3 s to load on a
  // worker thread, so each of these launches outlasts its lease.
  const slow = new URL('../fixtures/many-slow.ts', import.meta.url);
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  for (const takeover of [{ leaseMs: 2000 }, { leaseMs: 2500 }]) {
    const executorId = unique('fresh');
    const seen: { alive: boolean; at: number }[] = [];
    let done = false;
    const sampling = (async () => {
      while (!done) {
        const e = find(await client.listExecutors(), executorId);
        if (e) seen.push({ alive: e.alive, at: Date.now() });
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const launching = Date.now();
    const s = await launchHere(t, { workflows: slow, executorId, appVersion: unique('reg'), takeover }).finally(() => (done = true));
    const tookMs = Date.now() - launching;
    await sampling;
    const listed = find(await s.listExecutors(), executorId);
    const what = `takeover ${JSON.stringify(takeover)}, launch took ${tookMs} ms`;
    t.true(seen.length > 0, `${what}: listed while it launched`);
    const dead = seen.filter((x) => !x.alive);
    t.is(dead.length, 0, `${what}: listed dead ${dead.length} times of ${seen.length}, first ${dead[0] ? dead[0].at - seen[0]!.at : '-'} ms after it was first listed`);
    t.like(listed, { alive: true, pid: process.pid }, `${what}: right after launch`);
    await s.shutdown({ timeoutMs: 2000 });
  }
});
