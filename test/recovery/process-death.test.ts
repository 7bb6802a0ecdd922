import test from 'ava';
import { once } from 'node:events';
import { count } from '../support/counters.ts';
import { ConfigError, type Skein } from '../../runtime/index.ts';
import { launch, messageFrom, spawnFixture, testDatabase, unique, waitFor } from '../support/helpers.ts';

/** Runs `killable` in a child process until its victim step started, then SIGKILLs it. */
async function killChildMidWorkflow(executorId: string, workflowId: string, key: string): Promise<void> {
  const child = spawnFixture('child-skein.ts', [
    await testDatabase(), executorId, 'killable', workflowId, JSON.stringify({ key, how: 'hang' }),
  ]);
  const exited = once(child, 'exit');
  exited.catch(() => {}); // awaited below, unless the wait fails first
  try {
    await messageFrom(child, "'started'");
    await waitFor(async () => (await count(`${key}:victim`)) === 1, 30_000, "the child's victim step starting");
  } finally {
    child.kill('SIGKILL'); // also when the wait failed: no child is left running
  }
  await exited;
}

test('SIGKILL mid-workflow: a new process with the same executor ID completes it at launch', async (t) => {
  const executorId = unique('exec');
  const id = unique();
  const key = unique('k');
  await killChildMidWorkflow(executorId, id, key);

  const skein = await launch(t, { executorId });
  t.deepEqual(await skein.retrieve(id).result(), [1, 2, 1]);
  t.is(await count(`${key}:before`), 1);
  t.is(await count(`${key}:after`), 1);
  const status = await skein.retrieve(id).status();
  t.is(status?.attempts, 2);
  t.is(status?.executorId, executorId);
});

test('SIGKILL mid-workflow: another live process takes over with recoverPendingWorkflows', async (t) => {
  const deadExecutor = unique('dead');
  const id = unique();
  const key = unique('k');
  await killChildMidWorkflow(deadExecutor, id, key);

  const skein = await launch(t); // its own executor ID: launch recovery does not touch it
  t.is((await skein.retrieve(id).status())?.status, 'PENDING');
  const handles = await skein.recoverPendingWorkflows([deadExecutor]);
  t.deepEqual(handles.map((h) => h.id), [id]);
  t.deepEqual(await handles[0]!.result(), [1, 2, 1]);
  const status = await skein.retrieve(id).status();
  t.is(status?.executorId, skein.executorId, 'the workflow now belongs to the process that took it');
  t.deepEqual(await skein.recoverPendingWorkflows([deadExecutor]), [], 'nothing left to take');
});

test('two processes recovering the same workflow at once record each step once', async (t) => {
  const deadExecutor = unique('dead');
  const id = unique();
  const key = unique('k');
  await killChildMidWorkflow(deadExecutor, id, key);
  // two Skeins in this process stand for two processes: separate pools, threads and writers
  const [a, b] = await Promise.all([launch(t), launch(t)]);
  const [ha, hb] = await Promise.all([a.recoverPendingWorkflows([deadExecutor]), b.recoverPendingWorkflows([deadExecutor])]);
  t.is(ha.length + hb.length, 1, 'the claim goes to exactly one of them');
  t.deepEqual(await a.retrieve(id).result(), [1, 2, 1]);
  const steps = await a.getWorkflowSteps(id);
  t.deepEqual(steps.map((s) => s.stepId), [0, 1, 2]);
});

test('two processes launched at once with the same executor ID: one is refused, the other recovers the work once', async (t) => {
  const executorId = unique('exec');
  const id = unique();
  const key = unique('k');
  await killChildMidWorkflow(executorId, id, key);
  // the registry's lock decides: exactly one holds the ID, the other's launch is a ConfigError
  // naming it, before it has recovered anything
  const launches = await Promise.allSettled([launch(t, { executorId }), launch(t, { executorId })]);
  const won = launches.filter((l): l is PromiseFulfilledResult<Skein> => l.status === 'fulfilled');
  const lost = launches.filter((l): l is PromiseRejectedResult => l.status === 'rejected');
  t.is(won.length, 1);
  t.is(lost.length, 1);
  t.true(lost[0]!.reason instanceof ConfigError, String(lost[0]!.reason));
  t.regex((lost[0]!.reason as Error).message, new RegExp(`executorId '${executorId}' is in use by a live process \\(pid ${process.pid}`));
  const skein = won[0]!.value;
  t.deepEqual(await skein.retrieve<number[]>(id).result(), [1, 2, 1]);
  t.is(await count(`${key}:before`), 1);
  t.is(await count(`${key}:after`), 1, 'one execution only: nothing raced it');
  const steps = await skein.getWorkflowSteps(id);
  t.deepEqual(steps.map((s) => [s.stepId, s.name]), [[0, 'before'], [1, 'victim'], [2, 'after']]);
});
