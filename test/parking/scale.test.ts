// Parking at scale, in a file of its own: 10,000 workflows parked and woken.
import test from 'ava';
import type { WorkflowHandle } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { launch, sql, waitFor } from '../support/helpers.ts';

test('10,000 workflows in recv, each woken by its own message, all complete with exactly their message', async (t) => {
  const skein = await launch(t, { threads: 2, workflowsPerThread: 64 });
  const n = 10_000;
  const handles: WorkflowHandle<unknown[]>[] = [];
  for (let i = 0; i < n; i += 500) {
    handles.push(...(await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, () => skein.start(wf.receiver, { topics: ['t'], timeoutMs: 600_000 })),
    )));
  }
  await waitFor(() => {
    const s = skein.waiterStats();
    return s.waiting + s.parked === n;
  }, 120_000);
  const { parked, waiting } = skein.waiterStats();
  t.log(`before the messages: ${parked} parked, ${waiting} waiting on their threads`);
  t.true(parked > 0, 'some left their threads');
  await Promise.all(handles.map((h) => skein.send(h.id, h.id, 't')));
  const results = await Promise.all(handles.map((h) => h.result()));
  t.true(results.every((r, i) => (r as string[])[0] === handles[i]!.id), 'each got exactly its own message');
  const [left] = await sql('SELECT count(*)::int AS n FROM skein.messages WHERE destination_id = ANY($1)', [handles.map((h) => h.id)]);
  t.is(left!.n, 0, 'every message was taken once');
});
