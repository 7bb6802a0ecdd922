// Issue 10, point 9: a workflow cannot swallow NonDeterminismError (README, "Inside a
// workflow"): every later ctx call throws it again and the workflow ends as ERROR with it,
// whatever its function returns.
import test from 'ava';
import { NonDeterminismError } from '../../runtime/index.ts';
import * as hv from '../fixtures/hostile-values.ts';
import { count } from '../support/counters.ts';
import { launch, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/hostile-values.ts', import.meta.url);

test('a workflow that catches NonDeterminismError and returns ends as ERROR with it', async (t) => {
  const skein = await launch(t, { workflows, threads: 1 });
  const key = unique('k');
  const handle = await skein.start(hv.swallowsNonDeterminism, { key });
  await waitFor(async () => (await count(`${key}:hang`)) === 1);
  // the replay calls 'renamed' where 'original' was recorded
  await skein.killThread(handle.id);
  const err = await t.throwsAsync(handle.result(), { instanceOf: NonDeterminismError });
  t.regex(err!.message, /recorded as 'original' but the code now calls 'renamed'/);
  const status = await handle.status();
  t.is(status?.status, 'ERROR');
  t.true(status?.error instanceof NonDeterminismError);
  t.is(status?.attempts, 2);
  t.is(await count(`${key}:caught:NonDeterminismError`), 1, 'the workflow caught it');
  t.is(await count(`${key}:again:NonDeterminismError`), 1, 'a ctx call after catching throws it again');
  t.is(await count(`${key}:after`), 0, 'the step after it never ran');
  // nothing was recorded past the mismatch
  const steps = await skein.getWorkflowSteps(handle.id);
  t.deepEqual(steps.map((s) => s.name), ['original']);
});
