// Issue 10, point 1: a burst of large step results once broke every flush of the process (one
// statement over ~256 MB of batched payloads failed in the pg driver and left its connection
// believing in a prepared statement the server never kept). Large writes must go alone, a
// failed connection must be discarded, and small workflows must keep going alongside.
import test from 'ava';
import { launch, sql, unique } from '../support/helpers.ts';
import { count } from '../support/counters.ts';
import { bigInput, bigResult, small } from '../fixtures/poison.ts';

const poisonModule = new URL('../fixtures/poison.ts', import.meta.url);

async function burst(t: import('ava').ExecutionContext, n: number, mb: number): Promise<void> {
  const skein = await launch(t, { workflows: poisonModule });
  const key = unique('big');
  const bigs = await Promise.all(
    Array.from({ length: n }, (_, i) => skein.start(bigResult, { key: `${key}-${i}`, mb })),
  );
  // small workflows started alongside must complete too
  const smallKey = unique('small');
  const smalls = await Promise.all(
    Array.from({ length: 20 }, (_, i) => skein.start(small, { key: `${smallKey}-${i}`, steps: 3 })),
  );
  t.deepEqual(await Promise.all(smalls.map((h) => h.result())), smalls.map(() => 3));
  t.deepEqual(await Promise.all(bigs.map((h) => h.result())), bigs.map(() => mb * 1024 * 1024));
  for (let i = 0; i < n; i++) {
    t.is(await count(`${key}-${i}:big`), 1, `big step of workflow ${i} ran once`);
  }
  const rows = await sql<{ attempts: number }>(
    `SELECT attempts FROM skein.workflow_status WHERE id = ANY($1)`,
    [bigs.map((h) => h.id)],
  );
  t.true(rows.every((r) => r.attempts === 1), 'no big workflow ran twice');
}

test('40 steps returning 10 MB each all complete, once, beside small workflows', async (t) => {
  await burst(t, 40, 10);
});

test('100 steps returning 10 MB each all complete, once', async (t) => {
  t.timeout(240_000);
  await burst(t, 100, 10);
});

test('8 concurrent starts with 40 MB inputs all run, and later starts still work', async (t) => {
  const skein = await launch(t, { workflows: poisonModule });
  const input = new Uint8Array(40 * 1024 * 1024).fill(1);
  const handles = await Promise.all(Array.from({ length: 8 }, () => skein.start(bigInput, input)));
  t.deepEqual(await Promise.all(handles.map((h) => h.result())), handles.map(() => input.length));
  t.is(await skein.run(small, { key: unique('after'), steps: 1 }), 1);
});
