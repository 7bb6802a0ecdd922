// result() of many workflows at once: the reads of one turn go out together, in chunks of 500
// IDs (runtime/outcome-reads.ts), and each caller still gets its own workflow's outcome.
import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { launch, unique, waitFor } from '../support/helpers.ts';
import { count } from '../support/counters.ts';

test('result() of 1,200 finished workflows called in one loop: each gets its own output, across read chunks', async (t) => {
  const skein = await launch(t);
  const base = unique('many');
  const handles = await Promise.all(Array.from({ length: 1200 }, (_, i) => skein.start(wf.echo, { i }, { id: `${base}-${i}` })));
  await Promise.all(handles.map((h) => h.result())); // all finished, so none is running here
  // the same IDs again through fresh handles (no local completion), one twice, in one loop
  const again = handles.map((h) => skein.retrieve<{ i: number }>(h.id));
  const results = await Promise.all([...again.map((h) => h.result()), again[7]!.result()]);
  t.deepEqual(
    results,
    [...Array.from({ length: 1200 }, (_, i) => ({ i })), { i: 7 }],
  );
});

test('in one batch of reads, a missing ID rejects alone and an unfinished workflow waits for its own end', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const done = await skein.start(wf.echo, 'done');
  t.is(await done.result(), 'done');
  const waiting = await skein.start(wf.announcedRecv, { key, timeoutMs: 60_000 });
  await waitFor(async () => (await count(`${key}:waiting`)) === 1, 30_000, 'the receiver to announce');
  const [missing, finished, pending] = [
    skein.retrieve('no-such-workflow').result(),
    skein.retrieve(done.id).result(),
    skein.retrieve(waiting.id).result(),
  ];
  await t.throwsAsync(missing, { message: /no workflow with ID 'no-such-workflow'/ });
  t.is(await finished, 'done');
  await skein.send(waiting.id, 'late', 't');
  t.is(await pending, 'late');
});
