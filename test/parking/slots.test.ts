// A waiting workflow holds no thread slot (README, "Waiting and slots"): slots are for
// running code, and new work runs while the slots' previous holders wait.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, unique, waitFor } from '../support/helpers.ts';

for (const parkAfterMs of [600_000, undefined]) {
  const how = parkAfterMs === undefined ? 'parked after the default threshold' : 'never parked';
  test(`four workflows in recv on 1 thread x 2 slots: a one-step workflow still finishes in ms (${how})`, async (t) => {
    const skein = await launch(t, { threads: 1, workflowsPerThread: 2, parkAfterMs });
    const key = unique('k');
    const waiters = await Promise.all(
      Array.from({ length: 4 }, (_, i) => skein.start(wf.announcedRecv, { key: `${key}${i}`, timeoutMs: 8000 })),
    );
    for (let i = 0; i < 4; i++) await waitFor(async () => (await count(`${key}${i}:waiting`)) === 1);
    await waitFor(() => skein.waiterStats().waiting + skein.waiterStats().parked === 4);
    const started = Date.now();
    t.is(await skein.run(wf.threeSteps, { key: unique('k'), n: 1 }), 16);
    const done = Date.now();
    t.log(`one-step workflow beside 4 waiters: ${done - started} ms`);
    // Had the waiters held the slots, it would have waited for one to free: at the first of
    // their 8 s timeouts, as recorded (compared with that, not with a fixed 2 s)
    const deadlines = await Promise.all(
      waiters.map(async (h) => (await skein.getWorkflowSteps(h.id)).find((s) => s.name === 'skein.recv.deadline')!.output as number),
    );
    const first = Math.min(...deadlines);
    t.true(done < first, `done ${done - first} ms after the first waiter's timeout: the waiters held it`);
    for (const h of waiters) await skein.send(h.id, 'go', 't');
    t.deepEqual(await Promise.all(waiters.map((h) => h.result())), ['go', 'go', 'go', 'go']);
  });
}

test('a parent awaiting 20 children on a queue of the same executor, 1 thread x 2 slots, completes', async (t) => {
  const skein = await launch(t, {
    threads: 1,
    workflowsPerThread: 2,
    queues: [{ name: 'kids', workerConcurrency: 20 }],
  });
  const key = unique('k');
  const result = await skein.run(wf.sumChildren, { n: 20, queue: 'kids', key });
  t.is(result.sum, Array.from({ length: 20 }, (_, i) => i * i).reduce((a, b) => a + b));
  for (let i = 0; i < 20; i++) t.is(await count(`${key}:child${i}`), 1, `child ${i} ran once`);
});

test("a step's retry back-off holds no slot: other work runs on the only slot meanwhile", async (t) => {
  const skein = await launch(t, { threads: 1, workflowsPerThread: 1 });
  const key = unique('k');
  const retrying = await skein.start(wf.slowRetry, { key, backoffMs: 3000 });
  await waitFor(async () => (await count(key)) === 1); // failed once, now backing off
  const started = Date.now();
  t.is(await skein.run(wf.echo, 'quick'), 'quick');
  const done = Date.now();
  t.log(`echo beside a 3 s back-off: ${done - started} ms`);
  t.is(await retrying.result(), 2);
  // it ran during the back-off: before the retry that ended it was recorded (had the back-off
  // held the only slot, echo would have run after the whole retrying workflow)
  const retried = (await skein.getWorkflowSteps(retrying.id)).find((s) => s.name === 'flaky')!.completedAt!.getTime();
  t.true(done < retried, `done ${done - retried} ms after the retry was recorded: the back-off held the slot`);
});

test('slots still bound running code: 1 thread x 2 slots runs at most 2 step functions at once', async (t) => {
  const skein = await launch(t, { threads: 1, workflowsPerThread: 2 });
  const spans = await Promise.all(Array.from({ length: 6 }, () => skein.run(wf.holdSlot, { ms: 300 })));
  // the most running at any one instant: at each start, those begun and not yet ended
  let most = 0;
  for (const s of spans) {
    most = Math.max(most, spans.filter((o) => o.start <= s.start && o.end > s.start).length);
  }
  t.is(most, 2, 'no more step functions at once than slots');
});

// serial: the second thread's slots must free within the 250 ms share window, which the file's
// other tests, sharing this process's event loop, would otherwise crowd
test.serial('a backlog of more than the free slots is shared out: the thread that frees first takes half, not all it can', async (t) => {
  const skein = await launch(t, { threads: 2, workflowsPerThread: 4 });
  const dir = mkdtempSync(join(tmpdir(), 'skein-share-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const startedOn = (prefix: string) =>
    readdirSync(dir).filter((f) => f.startsWith(`started-${prefix}`)).map((f) => readFileSync(join(dir, f), 'utf8'));
  // every slot held: 4 on each thread
  const first = await Promise.all(Array.from({ length: 8 }, (_, i) => skein.start(wf.holdUntilReleased, { dir, label: `first${i}` })));
  await waitFor(() => startedOn('first').length === 8, 30_000, 'the first 8 to hold every slot');
  const threads = [...new Set(startedOn('first'))];
  t.is(threads.length, 2);
  // 6 ready, no free slot; each of them holds its slot until released
  const late = await Promise.all(
    Array.from({ length: 6 }, (_, i) => skein.start(wf.holdUntilReleased, { dir, label: `late${i}`, gate: 'release-late' })),
  );
  // one thread's 4 end together, the other's 30 ms later (well inside the share window)
  writeFileSync(join(dir, `release-${threads[0]}`), '');
  await new Promise((r) => setTimeout(r, 30));
  writeFileSync(join(dir, `release-${threads[1]}`), '');
  await waitFor(() => startedOn('late').length === 6, 30_000, 'the 6 to start');
  // had the first thread to free filled its 4 slots from the backlog, the split would be 4 and 2
  const perThread = threads.map((id) => startedOn('late').filter((x) => x === id).length);
  t.deepEqual(perThread, [3, 3], `the 6 went ${perThread.join(' / ')} to the thread that freed first / second`);
  writeFileSync(join(dir, 'release-late'), '');
  t.deepEqual((await Promise.all(late.map((h) => h.result()))).sort(), [...threads, ...threads, ...threads].map(Number).sort());
  await Promise.all(first.map((h) => h.result()));
});
