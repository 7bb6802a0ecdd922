import test from 'ava';
import { MaxRecoveryAttemptsError } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { count } from '../support/counters.ts';
import { launch, unique, waitFor } from '../support/helpers.ts';

for (const how of ['hang', 'exit', 'oom'] as const) {
  const way = { hang: 'killThread', exit: 'process.exit() in a step', oom: 'running out of memory' }[how];
  test(`a thread ended by ${way} mid-step: the workflow and its thread-mates finish, completed steps never re-run`, async (t) => {
    const skein = await launch(t, {
      threads: 1,
      workflowsPerThread: 8,
      // small enough that the hog hits it fast, large enough for tsx and pg in the thread
      resourceLimits: how === 'oom' ? { maxOldGenerationSizeMb: 96 } : undefined,
    });
    const key = unique('k');
    const mates = await Promise.all(
      [0, 1, 2].map((i) => skein.start(wf.slowSteps, { key: `${key}-mate${i}`, steps: 6, stepMs: 100 })),
    );
    const victim = await skein.start(wf.killable, { key, how });
    await waitFor(async () => (await count(`${key}:victim`)) === 1);
    if (how === 'hang') await skein.killThread(victim.id);

    t.deepEqual(await victim.result(), [1, 2, 1]);
    t.is(await count(`${key}:before`), 1);
    t.is(await count(`${key}:victim`), 2);
    t.is(await count(`${key}:after`), 1);
    // Blame: the victim ran code beside its mates, so the death is charged to nobody unless the
    // mates were done by then.
    t.true((await victim.status())!.attempts <= 2);
    for (const mate of mates) {
      t.is(await mate.result(), 15);
      t.is((await mate.status())?.attempts, 1, 'thread-mates are re-dispatched, not charged');
    }
    t.is(await count('violations'), 0, 'no checkpointed step ran again');
  });
}

test('a workflow whose step always kills its thread is dead-lettered after maxRecoveryAttempts', async (t) => {
  const skein = await launch(t, { threads: 1 });
  const key = unique('k');
  const handle = await skein.start(wf.alwaysCrashes, { key });
  await t.throwsAsync(handle.result(), { instanceOf: MaxRecoveryAttemptsError });
  const status = await handle.status();
  t.is(status?.status, 'MAX_RECOVERY_ATTEMPTS_EXCEEDED');
  t.is(status?.attempts, 3);
  t.is(await count(key), 3, 'three dispatches, none after');
  await new Promise((r) => setTimeout(r, 300));
  t.is(await count(key), 3);
  // the pool still works after its thread died three times
  t.is(await skein.run(wf.echo, 'alive'), 'alive');
});

test('killThread of a workflow not running here is a SkeinError', async (t) => {
  const skein = await launch(t);
  await t.throwsAsync(skein.killThread('nope'), { message: /not running on a thread/ });
});
