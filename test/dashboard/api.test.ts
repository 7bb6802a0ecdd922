// The dashboard's JSON API (runtime/dashboard/contract.ts) on a real Skein and database: every
// read endpoint, the timeline of each kind of step, and the actions.
import test, { type ExecutionContext } from 'ava';
import { Client } from '../../runtime/index.ts';
import type * as C from '../../runtime/dashboard/contract.ts';
import * as wf from '../fixtures/dashboard.ts';
import { launch, sql, testDatabase, unique, waitFor } from '../support/helpers.ts';
import { call, enc, post, serve } from './server.ts';

const workflows = new URL('../fixtures/dashboard.ts', import.meta.url);

async function client(t: ExecutionContext) {
  const c = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => c.close());
  return c;
}

test('/api/workflows: newest first, paged, filtered by status, name, queue, ID prefix and time', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const prefix = unique('list');
  for (let i = 0; i < 5; i++) await skein.run(wf.echo, i, { id: `${prefix}-${i}` });
  const queue = unique('q');
  await (await client(t)).enqueue({ workflow: 'dashEcho', queue, id: `${prefix}-queued` }, 'waits');
  const list = async (query: string) => (await call<C.WorkflowPage>(s.url, `/api/workflows?idPrefix=${prefix}&${query}`)).json;
  const ids = (page: C.WorkflowPage) => page.workflows.map((w) => w.id);

  const first = await list('limit=2');
  t.deepEqual(ids(first), [`${prefix}-queued`, `${prefix}-4`]);
  t.true(first.hasMore);
  t.like(first.workflows[1], { name: 'dashEcho', status: 'SUCCESS', queue: null, executorId: skein.executorId, attempts: 1, parentId: null });
  t.regex(first.workflows[1]!.createdAt, /^\d{4}-\d\d-\d\dT.*Z$/);
  t.truthy(first.workflows[1]!.completedAt);
  const last = await list('limit=2&offset=4');
  t.deepEqual(ids(last), [`${prefix}-1`, `${prefix}-0`]);
  t.false(last.hasMore);
  t.is((await list('')).workflows.length, 6, 'limit 50 by default');

  t.deepEqual(ids(await list('status=ENQUEUED')), [`${prefix}-queued`]);
  t.is((await list('status=success,error')).workflows.length, 5, 'several statuses, any case');
  t.is((await list('name=dashEcho')).workflows.length, 6);
  t.is((await list('name=dashWaiter')).workflows.length, 0);
  t.deepEqual(ids(await list(`queue=${queue}`)), [`${prefix}-queued`]);
  const third = (await list('')).workflows.find((w) => w.id === `${prefix}-2`)!;
  t.deepEqual(ids(await list(`since=${third.createdAt}&status=SUCCESS`)), [`${prefix}-4`, `${prefix}-3`, `${prefix}-2`]);
  t.deepEqual(ids(await list(`until=${third.createdAt}`)), [`${prefix}-2`, `${prefix}-1`, `${prefix}-0`]);
  t.is((await list(`since=${new Date(Date.now() + 3_600_000).toISOString()}`)).workflows.length, 0);

  for (const [query, named] of [['limit=501', /limit/], ['offset=-1', /offset/], ['status=DONE', /status/], ['since=yesterday', /since/], ['limit=2.5', /limit/]] as const) {
    const bad = await call(s.url, `/api/workflows?${query}`);
    t.is(bad.status, 400, query);
    t.regex(bad.json.error, named);
  }
});

test('a workflow by ID: 404 when there is none; IDs with /, %, spaces and unicode round-trip', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const odd = `odd/${unique('id')}%2F 100% ü 🎉 ?#&=`;
  await skein.run(wf.echo, { a: 1 }, { id: odd });
  const detail = await call<C.WorkflowDetail>(s.url, `/api/workflows/${enc(odd)}`);
  t.is(detail.status, 200);
  t.like(detail.json, { id: odd, name: 'dashEcho', status: 'SUCCESS', priority: 0, dedupId: null, forkedFrom: null, error: null });
  t.deepEqual(detail.json.input, { text: '{ a: 1 }', truncated: false, bytes: detail.json.input!.bytes });
  t.is(detail.json.output!.text, '{ a: 1 }');
  const steps = await call<{ steps: C.TimelineStep[] }>(s.url, `/api/workflows/${enc(odd)}/steps`);
  t.deepEqual(steps.json.steps.map((x) => [x.stepId, x.name, x.kind]), [[0, 'echo', 'step']]);
  t.is((await call(s.url, `/api/workflows?idPrefix=${enc(odd)}`)).json.workflows[0].id, odd);

  for (const part of ['', '/steps', '/children', '/events', '/messages']) {
    const missing = await call(s.url, `/api/workflows/${enc(unique('none'))}${part}`);
    t.is(missing.status, 404, part);
    t.regex(missing.json.error, /no workflow with ID/);
  }
  t.is((await post(s, `/api/workflows/${enc(unique('none'))}/cancel`)).status, 404);
  t.is((await call(s.url, `/api/workflows/${enc(odd)}/nothing`)).status, 404);
  t.is((await call(s.url, '/api/nothing')).status, 404);
  // a lone surrogate is no UTF-8: refused, not looked up
  t.is((await call(s.url, '/api/workflows/%ED%A0%80')).status, 400);
});

test('the timeline: retries, a sleep, a recv, a child, a transaction, an event and a send; events and waiting messages', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const h = await skein.start(wf.everyKind, null);
  const stepsOf = async (query = '') => (await call<{ steps: C.TimelineStep[]; hasMore: boolean }>(s.url, `/api/workflows/${enc(h.id)}/steps${query}`)).json;
  await waitFor(async () => (await stepsOf()).steps.length >= 3, 30_000, 'the recv waiting');
  await skein.send(h.id, 'now', 'go');
  t.deepEqual(await h.result(), { flaky: 'ok', go: 'now', doubled: 42, one: 1 });

  const { steps, hasMore } = await stepsOf();
  t.false(hasMore);
  t.deepEqual(
    steps.map((x) => [x.stepId, x.kind]),
    [[0, 'step'], [1, 'sleep'], [2, 'value'], [3, 'wait'], [4, 'child'], [5, 'wait'], [6, 'transaction'], [7, 'event'], [8, 'send']],
  );
  const [flaky, sleep, deadline, recv, start, result, tx, event] = steps as [C.TimelineStep, ...C.TimelineStep[]];
  t.like(flaky, { name: 'flaky', attempts: 3, error: null, output: { text: "'ok'", truncated: false, bytes: flaky.output!.bytes } });
  t.true(steps.slice(1).every((x) => x.attempts === 1), 'skein records one try');
  t.truthy(sleep!.wakeAt);
  t.is(sleep!.completedAt, sleep!.wakeAt!);
  t.is(sleep!.output, null, 'its wake-up time is wakeAt');
  const slept = Date.parse(sleep!.wakeAt!) - Date.parse(sleep!.startedAt!);
  t.true(slept >= 40 && slept < 10_000, `slept ${slept} ms`);
  t.is(deadline!.name, 'skein.recv.deadline');
  t.is(recv!.startedAt, deadline!.completedAt, 'the wait began when its deadline was recorded');
  t.true(Date.parse(recv!.completedAt) >= Date.parse(recv!.startedAt!));
  t.is(recv!.output!.text, "'now'");
  const children = (await call<{ workflows: C.WorkflowSummary[] }>(s.url, `/api/workflows/${enc(h.id)}/children`)).json.workflows;
  t.deepEqual(children.map((c) => [c.id, c.name, c.parentId, c.status]), [[start!.childWorkflowId, 'dashChild', h.id, 'SUCCESS']]);
  t.is(start!.name, 'skein.start:dashChild');
  t.is(result!.output!.text, '42');
  t.is(result!.startedAt, start!.completedAt);
  t.like(tx, { name: 'tx', output: { text: '1' } });
  t.like(event, { name: 'skein.setEvent' });

  // a page from step 3 still knows when its first wait began
  const page = await stepsOf('?from=3&limit=2');
  t.deepEqual(page.steps.map((x) => x.stepId), [3, 4]);
  t.true(page.hasMore);
  t.is(page.steps[0]!.startedAt, recv!.startedAt);

  // the checkpoint recorded the tries; skein's own records leave the column NULL
  const rows = await sql('SELECT step_id, attempts FROM skein.steps WHERE workflow_id = $1 ORDER BY step_id', [h.id]);
  t.is(rows[0].attempts, 3);
  t.is(rows.find((r) => r.step_id === 8).attempts, null);

  const events = (await call<{ events: C.EventInfo[] }>(s.url, `/api/workflows/${enc(h.id)}/events`)).json.events;
  t.deepEqual(events.map((e) => e.key), ['progress']);
  t.is(events[0]!.value.text, `{ done: true, text: '${wf.HOSTILE}' }`);
  const messages = (await call<{ messages: C.MessageInfo[] }>(s.url, `/api/workflows/${enc(h.id)}/messages`)).json.messages;
  t.deepEqual(messages.map((m) => [m.topic, m.message.text]), [['later', "'for later'"]]);
});

test('actions: cancel, resume, restart and fork; each refused without the CSRF header or from another origin', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const h = await skein.start(wf.waiter, null);
  const status = async (id: string) => (await call<C.WorkflowDetail>(s.url, `/api/workflows/${enc(id)}`)).json;
  await waitFor(async () => (await sql('SELECT 1 FROM skein.steps WHERE workflow_id = $1', [h.id])).length >= 2, 30_000, 'the waiter waiting');

  const cancel = `/api/workflows/${enc(h.id)}/cancel`;
  const bare = await call(s.url, cancel, { method: 'POST' });
  t.is(bare.status, 403);
  t.regex(bare.json.error, /x-skein-csrf/);
  const foreign = await call(s.url, cancel, { method: 'POST', headers: { 'x-skein-csrf': s.csrf, origin: 'http://evil.example' } });
  t.is(foreign.status, 403);
  t.is((await call(s.url, cancel, { method: 'POST', headers: { 'x-skein-csrf': s.csrf, origin: 'http://127.0.0.1:1' } })).status, 403, 'another port');
  t.is((await call(s.url, cancel, { method: 'POST', headers: { 'x-skein-csrf': 'guess' } })).status, 403);
  t.is((await status(h.id)).status, 'PENDING', 'nothing was done');

  const ok = await call(s.url, cancel, { method: 'POST', headers: { 'x-skein-csrf': s.csrf, origin: s.url } });
  t.deepEqual([ok.status, ok.json], [200, { ok: true }]);
  t.is((await status(h.id)).status, 'CANCELLED');

  t.deepEqual((await post(s, `/api/workflows/${enc(h.id)}/resume`)).json, { ok: true, id: h.id });
  t.not((await status(h.id)).status, 'CANCELLED');
  await post(s, cancel);

  const restarted = await post<C.ActionResult>(s, `/api/workflows/${enc(h.id)}/restart`);
  t.is(restarted.status, 200);
  t.truthy(restarted.json.id);
  t.not(restarted.json.id, h.id);
  t.like(await status(restarted.json.id!), { name: 'dashWaiter', forkedFrom: h.id });

  const forked = await post<C.ActionResult>(s, `/api/workflows/${enc(h.id)}/fork`, { startStep: 1 });
  t.is(forked.status, 200);
  t.like(await status(forked.json.id!), { name: 'dashWaiter', forkedFrom: h.id });
  t.is((await post(s, `/api/workflows/${enc(h.id)}/fork`, { startStep: 99 })).status, 400);
  const unknownField = await post(s, `/api/workflows/${enc(h.id)}/fork`, { startStep: 0, newId: 'x' });
  t.is(unknownField.status, 400);
  t.regex(unknownField.json.error, /newId/);
  for (const id of [restarted.json.id!, forked.json.id!]) await post(s, `/api/workflows/${enc(id)}/cancel`);

  // its own ID: the newest dashEcho by listing could be another test's (the list test's queued
  // one, which this resumed, so it ran, and that test saw it leave ENQUEUED: CI, once)
  const done = unique('done');
  await skein.run(wf.echo, 1, { id: done });
  const conflict = await post(s, `/api/workflows/${enc(done)}/resume`);
  t.is(conflict.status, 409, 'a finished workflow cannot be resumed');
  t.is((await post(s, `/api/workflows/${enc(h.id)}/explode`)).status, 404);
});

test('schedules: listed, paused, resumed and triggered', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const id = unique('sched');
  await skein.createSchedule({ id, workflow: 'dashEcho', cron: '0 0 * * * *', input: 'tick' });
  const one = async () => (await call<{ schedules: C.ScheduleSummary[] }>(s.url, '/api/schedules')).json.schedules.find((x) => x.id === id);
  t.like(await one(), { id, workflow: 'dashEcho', cron: '0 0 * * * *', timezone: 'UTC', queue: null, paused: false });
  t.regex((await one())!.nextAt, /:00:00\.000Z$/);

  t.is((await call(s.url, `/api/schedules/${enc(id)}/pause`, { method: 'POST' })).status, 403);
  t.false((await one())!.paused, 'nothing done without the CSRF header');
  t.deepEqual((await post(s, `/api/schedules/${enc(id)}/pause`)).json, { ok: true });
  t.true((await one())!.paused);
  t.deepEqual((await post(s, `/api/schedules/${enc(id)}/resume`)).json, { ok: true });
  t.false((await one())!.paused);
  const triggered = await post<C.ActionResult>(s, `/api/schedules/${enc(id)}/trigger`);
  t.is(triggered.status, 200);
  await skein.retrieve(triggered.json.id!).result();
  t.like((await call(s.url, `/api/workflows/${enc(triggered.json.id!)}`)).json, { name: 'dashEcho', scheduleId: id, output: { text: "'tick'" } });
  t.is((await post(s, `/api/schedules/${enc(unique('none'))}/pause`)).status, 404);
});

test('queues with their limits and recent starts; executors; metrics where workflows run', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { workflows, admin: { port: 0 }, queues: [{ name: queue, concurrency: 3, rateLimit: { limit: 10, periodMs: 60_000 } }] });
  await (await skein.start(wf.echo, 1, { queue })).result();
  const idle = unique('idle');
  await (await client(t)).enqueue({ workflow: 'dashEcho', queue: idle }, 2);

  // through the Skein's own admin server, as SkeinConfig.admin wires it
  const url = skein.adminUrl!;
  const queues = (await call<{ queues: C.QueueInfo[] }>(url, '/api/queues')).json.queues;
  t.deepEqual(queues.find((q) => q.name === queue), {
    name: queue, enqueued: 0, delayed: 0, running: 0, runningByExecutor: {}, startedLastMinute: 1,
    rateLimit: { limit: 10, periodMs: 60_000 }, concurrency: 3,
  });
  t.like(queues.find((q) => q.name === idle), { enqueued: 1, startedLastMinute: 0, rateLimit: null, concurrency: null });

  const executors = (await call<{ executors: C.ExecutorSummary[] }>(url, '/api/executors')).json.executors;
  t.like(executors.find((e) => e.executorId === skein.executorId), { appVersion: skein.appVersion, pid: process.pid, alive: true });

  const metrics = await call(url, '/api/metrics');
  t.is(metrics.status, 200);
  t.like(metrics.json, { executorId: skein.executorId, workflowsStarted: 1 });
  t.is((await call(url, '/api/workflows?limit=1')).status, 200);
  t.is((await call(url, '/api/workflows/x/cancel', { method: 'POST' })).status, 403);
  t.is((await call(url, '/metrics')).status, 200, '/metrics as before');

  // a server over a Client (`skein dashboard`) has no metrics of its own
  const s = await serve(t, await client(t));
  t.is((await call(s.url, '/api/metrics')).status, 404);
  t.is((await call(s.url, '/api/queues')).status, 200);
});
