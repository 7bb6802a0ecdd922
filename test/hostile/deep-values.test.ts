// Issue 10, point 8: values that cannot be read back are not stored. A worker thread's stack
// lets v8 serialize values nested far deeper than the main thread can deserialize; such a value
// is refused when encoded, as a SerializationError, and nothing unreadable reaches Postgres.
import test from 'ava';
import { SerializationError } from '../../runtime/index.ts';
import { MAX_DEPTH } from '../../common/codec.ts';
import * as hv from '../fixtures/hostile-values.ts';
import { count } from '../support/counters.ts';
import { launch, sql, unique } from '../support/helpers.ts';

const workflows = new URL('../fixtures/hostile-values.ts', import.meta.url);
const shapes = ['object', 'array', 'map', 'set', 'error'] as const;

test('a step result nested 10,000 deep is a SerializationError recorded as the step error', async (t) => {
  const skein = await launch(t, { workflows, threads: 1 });
  const key = unique('k');
  const handle = await skein.start(hv.deepStepResults, { key, shapes: [...shapes], depth: 10_000 });
  const outcomes = await handle.result();
  for (const shape of shapes) {
    t.like(outcomes[shape], { name: 'SerializationError', code: 'SERIALIZATION' }, shape);
    t.regex((outcomes[shape] as { message: string }).message, /nests deeper than/, shape);
    t.is(await count(`${key}:${shape}`), 1, `${shape}: the step ran once`);
  }
  t.is((await handle.status())?.attempts, 1);
  // nothing unreadable stored: no output, and every payload of the workflow reads back here
  const rows = await sql('SELECT output FROM skein.steps WHERE workflow_id = $1', [handle.id]);
  t.is(rows.length, shapes.length);
  t.true(rows.every((r) => r.output === null));
  const steps = await skein.getWorkflowSteps(handle.id);
  t.is(steps.length, shapes.length);
  for (const step of steps) t.true(step.error instanceof SerializationError, step.name);
});

test(`a step result nested ${MAX_DEPTH} deep is stored and read back on the main thread`, async (t) => {
  const skein = await launch(t, { workflows, threads: 1 });
  const key = unique('k');
  const handle = await skein.start(hv.deepStepResults, { key, shapes: [...shapes], depth: MAX_DEPTH });
  const outcomes = await handle.result();
  for (const shape of shapes) t.deepEqual(outcomes[shape], { ok: true }, shape);
  const steps = await skein.getWorkflowSteps(handle.id);
  t.deepEqual(steps[0]!.output, hv.nest('object', MAX_DEPTH));
  t.deepEqual(steps[2]!.output, hv.nest('map', MAX_DEPTH));
});

test('a workflow output nested 10,000 deep ends the workflow as ERROR with a SerializationError', async (t) => {
  const skein = await launch(t, { workflows, threads: 1 });
  for (const shape of ['object', 'array'] as const) {
    const handle = await skein.start(hv.deepOutput, { shape, depth: 10_000 });
    await t.throwsAsync(handle.result(), { instanceOf: SerializationError, message: /nests deeper than/ });
    const status = await handle.status();
    t.is(status?.status, 'ERROR', shape);
    t.is(status?.attempts, 1, shape);
  }
});
