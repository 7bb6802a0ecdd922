// The threads' lines (runtime/thread-lines.ts), main's end, against the far end of a real
// MessageChannel standing for a thread (threads/line.ts posts `[run, message]`, reads batches).
import test from 'ava';
import { once } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { MainMessage, OnLine, RunTask, ToWorker, WorkerMessage } from '../../common/protocol.ts';
import { ThreadLines, type RunEnd } from '../../runtime/thread-lines.ts';

function thread(lines: ThreadLines, threadId: number) {
  const { port1, port2 } = new MessageChannel();
  lines.attach(threadId, port2);
  const batches: OnLine<ToWorker>[][] = [];
  port1.on('message', (batch: OnLine<ToWorker>[]) => batches.push(batch));
  return { port: port1 as MessagePort, batches, say: (run: number, msg: WorkerMessage | { type: 'end'; result?: unknown; error?: string }) => port1.postMessage([run, msg]) };
}

/** Lines with one thread (1) on them, closed after the test. */
function oneThread(t: { teardown(fn: () => void): void }) {
  const lines = new ThreadLines();
  t.teardown(() => lines.close(new Error('test over')));
  return { lines, a: thread(lines, 1) };
}

/** A new run's link and what it hears. */
function listened(lines: ThreadLines) {
  const link = lines.open();
  const heard: WorkerMessage[] = [];
  link.on('message', (msg) => heard.push(msg));
  return { link, heard };
}

const reply = (id: number): MainMessage => ({ type: 'reply', id, ok: true });
const turn = () => new Promise((r) => setImmediate(r));

test("a run's messages reach it; what main sends it before its first message waits, then goes to its thread", async (t) => {
  const { lines, a } = oneThread(t);
  const { link, heard } = listened(lines);
  link.postMessage({ type: 'cancel', reason: 'cancelled' }); // piscina has not said which thread runs it
  await turn();
  await turn();
  t.deepEqual(a.batches, [], 'nowhere to go yet');
  a.say(link.run, { type: 'thread', threadId: 1 });
  await once(a.port, 'message');
  t.deepEqual(heard, [{ type: 'thread', threadId: 1 }]);
  t.deepEqual(a.batches, [[[link.run, { type: 'cancel', reason: 'cancelled' }]]]);
});

test("the replies of one turn go to a thread as one batch, in order; each thread gets its own runs' only", async (t) => {
  const lines = new ThreadLines();
  t.teardown(() => lines.close(new Error('test over')));
  const a = thread(lines, 1);
  const b = thread(lines, 2);
  const onA = Array.from({ length: 300 }, () => lines.open());
  const onB = lines.open();
  for (const link of onA) a.say(link.run, { type: 'thread', threadId: 1 });
  b.say(onB.run, { type: 'thread', threadId: 2 });
  const bound = new Promise<void>((resolve) => {
    let n = 0;
    for (const link of [...onA, onB]) link.on('message', () => ++n === onA.length + 1 && resolve());
  });
  await bound;
  onA.forEach((link, i) => link.postMessage(reply(i)));
  onB.postMessage(reply(7));
  await Promise.all([once(a.port, 'message'), once(b.port, 'message')]);
  t.is(a.batches.length, 1, 'one post for 300 replies');
  t.deepEqual(a.batches[0], onA.map((link, i) => [link.run, reply(i)]));
  t.deepEqual(b.batches, [[[onB.run, reply(7)]]]);
});

test('a closed link sends nothing and hears nothing; a message for an unknown run is dropped', async (t) => {
  const { lines, a } = oneThread(t);
  const { link, heard } = listened(lines);
  a.say(link.run, { type: 'thread', threadId: 1 });
  a.say(9_999, { type: 'thread', threadId: 1 });
  await turn();
  await turn();
  t.is(heard.length, 1);
  link.close();
  link.postMessage(reply(1));
  a.say(link.run, { type: 'thread', threadId: 1 });
  const other = lines.open();
  other.on('message', () => other.postMessage(reply(2)));
  a.say(other.run, { type: 'thread', threadId: 1 });
  await once(a.port, 'message');
  t.is(heard.length, 1, 'nothing after close');
  t.deepEqual(a.batches, [[[other.run, reply(2)]]], "only the open run's reply");
});

const task = (run: number): RunTask => ({ id: `wf-${run}`, name: 'w', input: new Uint8Array([1]), steps: [], workflowsModule: 'm', run }) as unknown as RunTask;

test("a run starts on its thread's line, in the turn's batch, and ends when the thread says so", async (t) => {
  const { lines, a } = oneThread(t);
  const runs = [lines.open(), lines.open()];
  const ends: RunEnd[] = [];
  for (const link of runs) {
    link.onEnd((end) => ends.push(end));
    t.true(lines.start(1, link, task(link.run)));
  }
  t.true(lines.busy(1));
  t.false(lines.start(2, lines.open(), task(99)), 'no line: not started');
  await once(a.port, 'message');
  t.deepEqual(a.batches, [runs.map((link) => [link.run, { type: 'start', task: task(link.run) }])], 'both starts in one post');
  // what main sends a started run goes straight to its thread: it is bound already
  runs[0]!.postMessage(reply(1));
  await once(a.port, 'message');
  t.deepEqual(a.batches[1], [[runs[0]!.run, reply(1)]]);
  a.say(runs[0]!.run, { type: 'end', result: { type: 'output', bytes: new Uint8Array([7]) } });
  a.say(runs[1]!.run, { type: 'end', error: 'Error: it threw' });
  await turn();
  await turn();
  t.deepEqual(ends[0], { result: { type: 'output', bytes: new Uint8Array([7]) } });
  t.regex(String((ends[1] as { error: unknown }).error), /it threw/);
  t.false(lines.busy(1), 'no run on the line any more');
});

test("a thread's death ends the runs on its line with its reason, and only those", async (t) => {
  const lines = new ThreadLines();
  t.teardown(() => lines.close(new Error('test over')));
  thread(lines, 1);
  thread(lines, 2);
  const onOne = [lines.open(), lines.open()];
  const onTwo = lines.open();
  const ends = new Map<number, RunEnd>();
  for (const link of [...onOne, onTwo]) link.onEnd((end) => ends.set(link.run, end));
  for (const link of onOne) lines.start(1, link, task(link.run));
  lines.start(2, onTwo, task(onTwo.run));
  onOne[1]!.close(); // given up before (parked, say): not told again
  const died = new Error('worker exited with code: 1');
  lines.retain((id) => id !== 1, () => died);
  t.deepEqual([...ends], [[onOne[0]!.run, { error: died }]]);
  t.false(lines.has(1));
  t.true(lines.busy(2));
  t.false(lines.start(1, lines.open(), task(5)), 'nothing more goes to a dead thread');
  lines.close(new Error('shutting down'));
  t.regex(String((ends.get(onTwo.run) as { error: unknown }).error), /shutting down/);
});
