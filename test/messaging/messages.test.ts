import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, unique, waitFor } from '../support/helpers.ts';

test('topics are independent and FIFO; messages sent before the receiver existed are received', async (t) => {
  const skein = await launch(t);
  const id = unique('rcv');
  await skein.send(id, 'a1', 'A');
  await skein.send(id, 'b1', 'B');
  await skein.send(id, 'a2', 'A');
  await skein.send(id, 'n1');
  const handle = await skein.start(wf.receiver, { topics: ['A', 'B', 'A', null], timeoutMs: 5000 }, { id });
  t.deepEqual(await handle.result(), ['a1', 'b1', 'a2', 'n1']);
});

test('a message without a topic is received only by recv() without one', async (t) => {
  const skein = await launch(t);
  const id = unique('rcv');
  await skein.send(id, { untopic: true });
  const handle = await skein.start(wf.receiver, { topics: ['A', null], timeoutMs: 300 }, { id });
  t.deepEqual(await handle.result(), [null, { untopic: true }]);
});

test('two concurrent senders and one receiver lose and duplicate nothing', async (t) => {
  const skein = await launch(t, { workflowsPerThread: 8 });
  const id = unique('rcv');
  const receiving = await skein.start(wf.receiver, { topics: Array(100).fill('t'), timeoutMs: 20_000 }, { id });
  const messages = (who: string) => Array.from({ length: 50 }, (_, i) => ({ topic: 't', body: `${who}-${i}` }));
  await Promise.all([
    skein.run(wf.sender, { destination: id, messages: messages('A') }),
    skein.run(wf.sender, { destination: id, messages: messages('B') }),
  ]);
  const got = (await receiving.result()) as string[];
  t.is(got.length, 100);
  t.is(new Set(got).size, 100, 'no duplicates');
  for (const who of ['A', 'B']) {
    t.deepEqual(got.filter((m) => m.startsWith(who)), messages(who).map((m) => m.body), `${who} in order`);
  }
});

test('recv with a 500 ms timeout and no message returns null after about 500 ms', async (t) => {
  const skein = await launch(t);
  const handle = await skein.start(wf.receiver, { topics: ['nothing'], timeoutMs: 500 });
  t.deepEqual(await handle.result(), [null]);
  // timed from its own records (not from start(), which includes threads booting)
  const [deadline, recv] = await skein.getWorkflowSteps(handle.id);
  t.deepEqual([deadline!.name, recv!.name, recv!.output], ['skein.recv.deadline', 'skein.recv', null]);
  const elapsed = recv!.completedAt!.getTime() - ((deadline!.output as number) - 500);
  t.true(elapsed >= 480 && elapsed < 1500, `${elapsed} ms`);
});

for (const withMessage of [false, true]) {
  test(`a 5 s recv whose thread is killed at 3 s ${withMessage ? 'receives a message sent meanwhile' : 'returns null about 2 s after recovery'}`, async (t) => {
    // kept on its thread for the kill (a parked recv has no thread to lose)
    const skein = await launch(t, { threads: 2, parkAfterMs: 60_000 });
    const key = unique('k');
    const handle = await skein.start(wf.announcedRecv, { key, timeoutMs: 5000 });
    // Timed from the deadline its recv recorded first, not from when this test noticed the recv
    // began: on a loaded machine the two are a second apart, and the kill would come too late.
    const step = async (name: string) => (await skein.getWorkflowSteps(handle.id)).find((s) => s.name === name);
    await waitFor(async () => (await step('skein.recv.deadline')) !== undefined, 30_000, 'its recv deadline recorded');
    const deadline = (await step('skein.recv.deadline'))!.output as number;
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - 2000 - Date.now()))); // 3 s into its 5 s
    await skein.killThread(handle.id);
    const killedAt = Date.now();
    if (withMessage) await skein.send(handle.id, 'meanwhile', 't');
    const result = await handle.result();
    const recorded = (await step('skein.recv'))!.completedAt!.getTime() - deadline;
    t.log(`${withMessage ? 'received' : 'timed out'} ${Date.now() - killedAt} ms after the kill, recorded ${recorded} ms after its deadline`);
    if (withMessage) {
      t.is(result, 'meanwhile');
      // taken when it came (the recovered recv checks at once), not at the timeout
      t.true(recorded < 0, `recorded ${recorded} ms after its deadline`);
    } else {
      t.is(result, null);
      // At the deadline it recorded, 2 s after the kill: not before, and not after a fresh 5 s
      // wait from the recovery, which would be recorded 3 s or more after the deadline
      t.true(recorded >= 0 && recorded < 2000, `recorded ${recorded} ms after its deadline`);
    }
    t.is((await handle.status())?.attempts, 1, 'a workflow waiting in recv cannot have killed its thread: not charged');
  });
}

test('repeated sends with one idempotency key deliver once, even after the first was received', async (t) => {
  const skein = await launch(t);
  const id = unique('rcv');
  for (let i = 0; i < 3; i++) await skein.send(id, 'only once', 't', { idempotencyKey: 'k1' });
  await skein.send(id, 'other key', 't', { idempotencyKey: 'k2' });
  const first = await skein.start(wf.receiver, { topics: ['t', 't', 't'], timeoutMs: 400 }, { id });
  t.deepEqual(await first.result(), ['only once', 'other key', null]);
  await skein.send(id, 'only once', 't', { idempotencyKey: 'k1' });
  t.deepEqual(await skein.run(wf.receiver, { topics: ['t'], timeoutMs: 300 }, { id: unique('x') }), [null]);
});

test('a send from a workflow happens exactly once across a crash after it', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const destination = unique('rcv');
  const handle = await skein.start(wf.sendThenHang, { key, destination });
  await waitFor(async () => (await count(`${key}:hang`)) === 1);
  await skein.killThread(handle.id);
  t.is(await handle.result(), 'done');
  t.deepEqual(await skein.run(wf.receiver, { topics: ['t', 't'], timeoutMs: 400 }, { id: destination }), ['once', null]);
});

test('bad arguments to send are ConfigErrors and send nothing', async (t) => {
  const skein = await launch(t);
  await t.throwsAsync(skein.send('', 'x'), { message: /destinationId/ });
  await t.throwsAsync(skein.send('a', 'x', ''), { message: /topic/ });
  await t.throwsAsync(skein.send('a', () => 1), { name: 'SerializationError' });
});
