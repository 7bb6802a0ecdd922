// Shutdown and after (issue 11, point 5): waiting workflows are let go at once and stay PENDING,
// pending result() and getEvent() calls reject with a SkeinError, and so does every later call,
// instead of pg's "Cannot use a pool after calling end".
import test from 'ava';
import { SkeinError } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, sql, unique, waitFor } from '../support/helpers.ts';

const waitForCount = (key: string, n: number) => waitFor(async () => (await count(key)) === n);

test('shutdown lets a workflow blocked in recv go at once; it stays PENDING and its result() rejects', async (t) => {
  // a long parkAfterMs: the workflow waits on its thread, not parked
  const skein = await launch(t, { parkAfterMs: 60_000 });
  const key = unique('recv');
  const h = await skein.start(wf.announcedRecv, { key, timeoutMs: 50_000 });
  const result = h.result();
  result.catch(() => {});
  await waitForCount(`${key}:waiting`, 1);
  await waitFor(() => skein.waiterStats().waiting === 1, 30_000, 'the workflow waiting in its recv');
  const started = Date.now();
  await skein.shutdown({ timeoutMs: 20_000 });
  const took = Date.now() - started;
  t.log(`shutdown took ${took} ms`);
  t.true(took < 10_000, `shutdown took ${took} ms: it waited for the waiting workflow`);
  const err = await t.throwsAsync(result);
  t.true(err instanceof SkeinError, String(err));
  t.regex(err!.message, /shut down/);
  const [row] = await sql('SELECT status FROM skein.workflow_status WHERE id = $1', [h.id]);
  t.is(row?.status, 'PENDING');
});

test('a result() awaited on a parked workflow rejects at shutdown', async (t) => {
  const skein = await launch(t, { parkAfterMs: 0 });
  const key = unique('parked');
  const h = await skein.start(wf.announcedRecv, { key, timeoutMs: 50_000 });
  await waitForCount(`${key}:waiting`, 1);
  const result = h.result();
  result.catch(() => {});
  const event = skein.getEvent(h.id, 'never', { timeoutMs: 50_000 });
  event.catch(() => {});
  await waitFor(() => skein.waiterStats().parked === 1, 30_000, 'the workflow parked');
  await skein.shutdown({ timeoutMs: 20_000 });
  for (const p of [result, event]) {
    const err = await t.throwsAsync(p);
    t.true(err instanceof SkeinError, String(err));
    t.regex(err!.message, /shut down/);
  }
});

test('every call after shutdown raises a SkeinError saying so', async (t) => {
  const skein = await launch(t);
  const h = await skein.start(wf.echo, 1);
  await h.result();
  await skein.shutdown();
  const calls: [string, () => unknown][] = [
    ['listWorkflows', () => skein.listWorkflows()],
    ['getWorkflowSteps', () => skein.getWorkflowSteps(h.id)],
    ['status', () => h.status()],
    ['result', () => h.result()],
    ['retrieve().status', () => skein.retrieve(h.id).status()],
    ['send', () => skein.send(h.id, 'x')],
    ['getEvent', () => skein.getEvent(h.id, 'k', { timeoutMs: 10 })],
    ['start', () => skein.start(wf.echo, 2)],
    ['run', () => skein.run(wf.echo, 2)],
    ['recoverPendingWorkflows', () => skein.recoverPendingWorkflows()],
    ['killThread', () => skein.killThread(h.id)],
  ];
  for (const [name, call] of calls) {
    const err = await t.throwsAsync(async () => call(), undefined, name);
    t.true(err instanceof SkeinError, `${name}: ${err}`);
    t.regex(err!.message, /shut down/, name);
  }
  // a second shutdown is the first one's promise, not an error
  await t.notThrowsAsync(skein.shutdown());
});
