import test from 'ava';
import * as wf from '../fixtures/workflows.ts';
import { launch } from '../support/helpers.ts';

test('calling the context inside a step throws a SkeinError', async (t) => {
  const skein = await launch(t);
  const result = await skein.run(wf.ctxInsideStep, null);
  t.is(result?.name, 'SkeinError');
  t.regex(result!.message, /ctx\.step\('inner'\) was called inside step 'outer'/);
});

test('the TypeScript workflows module loads on worker threads under tsx', async (t) => {
  const skein = await launch(t);
  const where = await skein.run(wf.whereRun, null);
  t.false(where.isMainThread);
});

test('a compiled JavaScript workflows module loads on worker threads', async (t) => {
  const skein = await launch(t, {
    workflows: new URL('../fixtures/compiled/workflows.js', import.meta.url),
  });
  const { jsWhereRun } = await import('../fixtures/compiled/workflows.js' as string);
  const result = (await skein.run(jsWhereRun, 21)) as Record<string, unknown>;
  t.deepEqual({ ...result, threadId: 0 }, { isMainThread: false, threadId: 0, doubled: 42 });
});
