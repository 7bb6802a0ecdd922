import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, sql, unique } from '../support/helpers.ts';
import { killOne, seeded } from '../support/campaign.ts';

test('100 workflows of 5 steps survive 30+ random thread kills; no checkpointed step runs again', async (t) => {
  const skein = await launch(t, { threads: 2, workflowsPerThread: 8 });
  const key = unique('campaign');
  const handles = await Promise.all(
    Array.from({ length: 100 }, (_, i) => skein.start(wf.slowSteps, { key: `${key}-${i}`, steps: 5, stepMs: 100 })),
  );
  const pending = new Set(handles.map((h) => h.id));
  const results = Promise.all(
    handles.map(async (h) => {
      const r = await h.result();
      pending.delete(h.id);
      return r;
    }),
  );

  let kills = 0;
  // A budget, not an endless storm: each kill aborts every workflow on the thread and costs a
  // thread boot, so unbounded kills would only test the dead-lettering of the last few.
  const random = seeded(12345);
  while (pending.size > 0 && kills < 40) if (await killOne(skein, pending, random)) kills++;

  t.deepEqual(await results, handles.map(() => 0 + 1 + 2 + 3 + 4));
  t.true(kills >= 30, `${kills} kills`);
  t.is(await count('violations'), 0, 'no checkpointed step ran again');
  // The kills hit steps in flight: those ran again (they had not been checkpointed). Attempts
  // are no measure of it: a death is charged only to a workflow running code alone (blame).
  const [{ runs }] = await sql<{ runs: number }>(
    `SELECT sum(n)::int AS runs FROM test_counters WHERE key LIKE $1`, [`${key}-%`]);
  t.true(runs > 500, `${runs} step runs for 500 steps`);
  const attempts = (await skein.listWorkflows({ ids: handles.map((h) => h.id) })).map((s) => s.attempts);
  t.log(`${kills} kills, ${runs - 500} steps interrupted and run again, ${attempts.reduce((a, b) => a + b, 0) - 100} attempts charged`);
});
