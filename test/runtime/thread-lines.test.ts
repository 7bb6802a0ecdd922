// The threads' lines (runtime/thread-lines.ts), main's end, against the far end of a real
// MessageChannel standing for a thread (threads/line.ts posts `[run, message]`, reads batches).
import test from 'ava';
import { once } from 'node:events';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { MainMessage, OnLine, WorkerMessage } from '../../common/protocol.ts';
import { ThreadLines } from '../../runtime/thread-lines.ts';

function thread(lines: ThreadLines, threadId: number) {
  const { port1, port2 } = new MessageChannel();
  lines.attach(threadId, port2);
  const batches: OnLine<MainMessage>[][] = [];
  port1.on('message', (batch: OnLine<MainMessage>[]) => batches.push(batch));
  return { port: port1 as MessagePort, batches, say: (run: number, msg: WorkerMessage) => port1.postMessage([run, msg]) };
}

/** Lines with one thread (1) on them, closed after the test. */
function oneThread(t: { teardown(fn: () => void): void }) {
  const lines = new ThreadLines();
  t.teardown(() => lines.close());
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
  t.teardown(() => lines.close());
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
