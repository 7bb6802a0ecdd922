import test from 'ava';
import { ConfigError } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { launch, messageFrom, spawnFixture, sql, testDatabase, unique, waitFor } from '../support/helpers.ts';

type Interval = { start: number; end: number };

/** The most intervals that overlap at any instant. */
function maxOverlap(intervals: Interval[]): number {
  const edges = intervals.flatMap((i) => [[i.start, 1], [i.end, -1]] as const);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // an end before a start at the same ms
  let now = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (now += d));
  return max;
}

test('workerConcurrency 2: never more than 2 of 20 run at once in this process', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { threads: 2, queues: [{ name: queue, workerConcurrency: 2 }] });
  const handles = await Promise.all(Array.from({ length: 20 }, () => skein.start(wf.holdSlot, { ms: 200 }, { queue })));
  const intervals = await Promise.all(handles.map((h) => h.result()));
  t.is(maxOverlap(intervals), 2);
});

test('concurrency 3 across two processes with workerConcurrency 3 each: never more than 3 at once', async (t) => {
  const queue = unique('q');
  const queues = [{ name: queue, workerConcurrency: 3, concurrency: 3 }];
  const child = spawnFixture('child-queue-worker.ts', [await testDatabase(), unique('other'), JSON.stringify(queues)]);
  t.teardown(() => child.kill('SIGKILL'));
  await messageFrom(child, "'ready' (serving the queue)");
  const skein = await launch(t, { threads: 2, queues });
  const handles = await Promise.all(Array.from({ length: 18 }, () => skein.start(wf.holdSlot, { ms: 200 }, { queue })));
  const intervals = await Promise.all(handles.map((h) => h.result()));
  t.is(maxOverlap(intervals), 3);
  const executors = await sql('SELECT DISTINCT executor_id FROM skein.workflow_status WHERE queue = $1', [queue]);
  t.log(`run by ${executors.length} executor(s)`);
});

test('rateLimit 5 per second: no 1-second window holds more than 5 of 15 starts', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { queues: [{ name: queue, rateLimit: { limit: 5, periodMs: 1000 } }] });
  const handles = await Promise.all(Array.from({ length: 15 }, () => skein.start(wf.holdSlot, { ms: 10 }, { queue })));
  await Promise.all(handles.map((h) => h.result()));
  const starts = (await skein.listWorkflows({ queue, loadInput: false, loadOutput: false }))
    .map((s) => s.startedAt!.getTime())
    .sort((a, b) => a - b);
  t.is(starts.length, 15);
  for (const [i, s] of starts.entries()) {
    const inWindow = starts.slice(i).filter((x) => x < s + 1000).length;
    t.true(inWindow <= 5, `${inWindow} starts within 1 s of the start at ${i}`);
  }
  t.true(starts[14]! - starts[0]! >= 2000, 'three windows were needed');
});

test('priority with workerConcurrency 1: lower first, none before any, FIFO within a priority', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { queues: [{ name: queue, workerConcurrency: 1, priority: true }] });
  const blocker = await skein.start(wf.holdSlot, { ms: 500 }, { queue });
  await waitFor(async () => (await blocker.status())?.status === 'PENDING');
  const order: [string, number | undefined][] = [['p5', 5], ['p1a', 1], ['none-a', undefined], ['p3', 3], ['p1b', 1], ['none-b', undefined]];
  const ids = new Map<string, string>();
  for (const [label, priority] of order) {
    const h = await skein.start(wf.holdSlot, { ms: 10 }, { queue, priority, id: `${queue}-${label}` });
    ids.set(h.id, label);
  }
  await Promise.all([...ids.keys()].map((id) => skein.retrieve(id).result()));
  const started = (await skein.listWorkflows({ ids: [...ids.keys()] }))
    .sort((a, b) => (a.output as Interval).start - (b.output as Interval).start)
    .map((s) => ids.get(s.id));
  t.deepEqual(started, ['none-a', 'none-b', 'p1a', 'p1b', 'p3', 'p5']);
});

test('dedupId: rejected while a workflow holds it, nothing written; accepted after it finished', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { queues: [{ name: queue }] });
  const first = await skein.start(wf.holdSlot, { ms: 300 }, { queue, dedupId: 'd' });
  const err = await t.throwsAsync(skein.start(wf.holdSlot, { ms: 1 }, { queue, dedupId: 'd', id: `${queue}-dup` }));
  t.is(err!.name, 'DuplicateWorkflowError');
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [`${queue}-dup`]), []);
  await first.result();
  const again = await skein.start(wf.holdSlot, { ms: 1 }, { queue, dedupId: 'd' });
  t.truthy(await again.result());
});

test('queue options are checked before anything is written', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { queues: [{ name: queue }] });
  await t.throwsAsync(skein.start(wf.echo, 1, { queue: 'undeclared' }), { instanceOf: ConfigError, message: /not declared/ });
  await t.throwsAsync(skein.start(wf.echo, 1, { queue, priority: 3 }), { instanceOf: ConfigError, message: /priority enabled/ });
  await t.throwsAsync(skein.start(wf.echo, 1, { priority: 3 }), { instanceOf: ConfigError, message: /needs options\.queue/ });
  const { Skein } = await import('../../runtime/index.ts');
  await t.throwsAsync(Skein.launch({ workflows: 'x.js', queues: [{ name: 'a', workerConcurrency: 0 }] }), {
    instanceOf: ConfigError,
    message: /queues\[0\]\.workerConcurrency/,
  });
  await t.throwsAsync(Skein.launch({ workflows: 'x.js', queues: [{ name: 'a' }, { name: 'a' }] }), {
    instanceOf: ConfigError,
    message: /declared twice/,
  });
  const p = await launch(t, { queues: [{ name: `${queue}-p`, priority: true }] });
  for (const bad of [0, -1, 2 ** 31, 1.5]) {
    await t.throwsAsync(p.start(wf.echo, 1, { queue: `${queue}-p`, priority: bad }), { instanceOf: ConfigError }, String(bad));
  }
});
