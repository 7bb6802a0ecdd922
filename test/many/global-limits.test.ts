// Issue 16, acceptance: a queue's global limits hold across processes. Two child processes serve
// one queue, each with room for 10 at once (workerConcurrency); the queue's `concurrency` and
// `rateLimit` bound them together. The `manyHold` fixture logs the interval of its one step
// (database clock, inside the step, so within the time its workflow held a slot) in many_spans.
import test from 'ava';
import { Client, type WorkflowHandle } from '../../runtime/index.ts';
import { migrated, sql, testDatabase, unique, within } from '../support/helpers.ts';
import { startManyChild, type ManyChild } from '../support/many-children.ts';
import { maxOverlap } from '../support/intervals.ts';

test.before(async () => {
  await migrated();
  await sql(`CREATE TABLE many_spans (
    workflow_id text PRIMARY KEY, executor_id text NOT NULL, pid int NOT NULL,
    started timestamptz NOT NULL, ended timestamptz)`);
});


/** The most of `stamps` (µs) in any window [s, s + periodUs). */
function mostInWindow(stamps: number[], periodUs: number): number {
  const sorted = [...stamps].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j]! < sorted[i]! + periodUs) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

/** Two children serving `queue`, each its own app version (no takeover ring: none is killed here). */
async function twoProcesses(t: import('ava').ExecutionContext, queue: Record<string, unknown>): Promise<ManyChild[]> {
  return Promise.all([0, 1].map(() => startManyChild(t, { appVersion: unique('limits'), queues: [queue] })));
}

async function enqueueHolds(queue: string, prefix: string, count: number, holdMs: number): Promise<{ client: Client; handles: WorkflowHandle<number>[] }> {
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  const handles = await Promise.all(
    Array.from({ length: count }, (_, i) => client.enqueue<number>({ workflow: 'manyHold', queue, id: `${prefix}${i}` }, { holdMs })),
  );
  return { client, handles };
}

test('concurrency 3 holds across 2 processes with workerConcurrency 10 each', async (t) => {
  t.timeout(240_000);
  const queue = unique('conc');
  const prefix = `${unique('c')}-`;
  const children = await twoProcesses(t, { name: queue, concurrency: 3, workerConcurrency: 10 });
  const { client, handles } = await enqueueHolds(queue, prefix, 30, 200);
  t.teardown(() => client.close());
  const pids = await within(Promise.all(handles.map((h) => h.result())), 180_000, 'the 30 workflows finishing');

  const statuses = await client.listWorkflows({ idPrefix: prefix, loadInput: false, loadOutput: false });
  t.is(statuses.length, 30);
  t.deepEqual(statuses.filter((s) => s.status !== 'SUCCESS').map((s) => `${s.id}: ${s.status}`), []);
  const spans = await sql<{ pid: number; start: string; end: string | null }>(
    `SELECT pid, (extract(epoch FROM started) * 1e6)::bigint::text AS start, (extract(epoch FROM ended) * 1e6)::bigint::text AS end
     FROM many_spans WHERE starts_with(workflow_id, $1)`,
    [prefix],
  );
  t.is(spans.length, 30);
  t.deepEqual(spans.filter((s) => s.end === null), [], 'every step ended');
  const intervals = spans.map((s) => ({ start: Number(s.start), end: Number(s.end) }));
  const most = maxOverlap(intervals);
  const perProcess = children.map((c) => maxOverlap(spans.filter((s) => s.pid === c.pid).map((s) => ({ start: Number(s.start), end: Number(s.end) }))));
  const ran = children.map((c) => pids.filter((p) => p === c.pid).length);
  t.log(`most at once: ${most} across both (per process: ${perProcess.join(', ')}); ran: ${ran.join(' + ')}`);
  t.true(most <= 3, `${most} ran at once in a queue of concurrency 3`);
  t.true(ran.every((n) => n > 0), `both processes ran some (${ran.join(' + ')})`);
  t.is(ran[0]! + ran[1]!, 30);
  // the claims agree: each workflow is recorded under the executor that ran it
  for (const c of children) {
    t.is(statuses.filter((s) => s.executorId === c.executorId).length, ran[children.indexOf(c)], `${c.executorId}'s workflows`);
  }
});

test('rateLimit 5 per 1000 ms holds across 2 processes with workerConcurrency 10 each', async (t) => {
  t.timeout(240_000);
  const queue = unique('rate');
  const prefix = `${unique('r')}-`;
  // maxPerPoll 2: a claim takes at most 2, so each window's 5 starts are shared by both
  // processes' claims rather than going whole to whichever claims first
  const children = await twoProcesses(t, { name: queue, rateLimit: { limit: 5, periodMs: 1000 }, workerConcurrency: 10, maxPerPoll: 2 });
  const { client, handles } = await enqueueHolds(queue, prefix, 30, 10);
  t.teardown(() => client.close());
  const pids = await within(Promise.all(handles.map((h) => h.result())), 180_000, 'the 30 workflows finishing');

  // started_at is what the limit counts: set by the claim, by the database's clock
  const rows = await sql<{ executor_id: string; started: string; status: string; attempts: number }>(
    `SELECT executor_id, status, attempts, (extract(epoch FROM started_at) * 1e6)::bigint::text AS started
     FROM skein.workflow_status WHERE starts_with(id, $1)`,
    [prefix],
  );
  t.is(rows.length, 30);
  t.deepEqual(rows.filter((r) => r.status !== 'SUCCESS' || r.attempts !== 1), [], 'each started once and succeeded');
  const starts = rows.map((r) => Number(r.started));
  const most = mostInWindow(starts, 1_000_000);
  const spanMs = (Math.max(...starts) - Math.min(...starts)) / 1000;
  const ran = children.map((c) => pids.filter((p) => p === c.pid).length);
  const claimed = children.map((c) => rows.filter((r) => r.executor_id === c.executorId).length);
  t.log(`most starts in any 1000 ms: ${most}; first to last start: ${Math.round(spanMs)} ms; ran: ${ran.join(' + ')}`);
  t.true(most <= 5, `${most} starts within 1000 ms, limit 5`);
  // 30 starts at 5 per second: the last is at least 5 periods after the first
  t.true(spanMs >= 5000, `30 starts spread over ${spanMs} ms`);
  t.true(ran.every((n) => n > 0), `both processes ran some (${ran.join(' + ')})`);
  t.deepEqual(claimed, ran);

  // the steps' own stamps, taken later than the claims, for the record
  const stamps = await sql<{ start: string }>(
    `SELECT (extract(epoch FROM started) * 1e6)::bigint::text AS start FROM many_spans WHERE starts_with(workflow_id, $1)`,
    [prefix],
  );
  t.log(`most step starts in any 1000 ms (stamped inside the step, not what the limit counts): ${mostInWindow(stamps.map((s) => Number(s.start)), 1_000_000)}`);
});
