// Issue 10, point 3: an error that cannot be encoded is still an error. Thrown from a workflow
// body or a step, it ends the workflow as ERROR after one attempt (never taken for a thread
// death and re-dispatched), and a step that threw it is recorded, so a replay does not run it.
import test from 'ava';
import { SerializationError } from '../../runtime/index.ts';
import * as hv from '../fixtures/hostile-values.ts';
import { count } from '../support/counters.ts';
import { launch, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/hostile-values.ts', import.meta.url);

/** What the SerializationError must say about the original: its class and its message. */
const describes: Record<(typeof hv.POISONS)[number], RegExp[]> = {
  throwingGetter: [/GetterError/, /the getter poisons it/, /reading error\.boom threw/, /boom getter exploded/],
  hugeProperty: [/HugeError/, /too big to keep/, /error\.blob is/, /exceeds/],
  // message, name and constructor all throw: the class still comes from the prototype
  hostileAccessors: [/AccessorError/, /message getter exploded/],
  proxy: [/Proxy/, /trap exploded/],
  revokedProxy: [/Proxy/, /revoked/],
  unprintable: [/Object/, /thrown\.fn is a function/],
  deepThrown: [/Object/, /nests deeper than/],
};

for (const kind of hv.POISONS) {
  test(`${kind}, thrown from the body and from a step, ends the workflow as ERROR after one attempt`, async (t) => {
    const skein = await launch(t, { workflows, threads: 1 });
    for (const where of ['body', 'step'] as const) {
      const key = unique('k');
      const handle = await skein.start(hv.throwPoison, { key, poison: kind, where });
      const err = await t.throwsAsync(handle.result(), { instanceOf: SerializationError }, where);
      for (const re of describes[kind]) t.regex(err!.message, re, `${where}: ${re}`);
      t.true(err!.message.length < 4000, `${where}: the description is bounded`);
      const status = await skein.retrieve(handle.id).status();
      t.is(status?.status, 'ERROR', where);
      t.is(status?.attempts, 1, `${where}: not re-dispatched`);
      t.is(await count(`${key}:body`), 1, `${where}: the body ran once`);
      if (where === 'step') {
        t.is(await count(`${key}:step`), 1, 'the step ran once');
        const steps = await skein.getWorkflowSteps(handle.id);
        t.is(steps.length, 1);
        t.true(steps[0]!.error instanceof SerializationError, 'the failure is recorded as the step error');
      }
    }
  });
}

test('a thrown null-prototype object is stored as what was thrown', async (t) => {
  const skein = await launch(t, { workflows, threads: 1 });
  for (const where of ['body', 'step'] as const) {
    const key = unique('k');
    const handle = await skein.start(hv.throwPoison, { key, poison: 'nullPrototype' as const, where });
    const thrown = await handle.result().then(
      () => t.fail('it succeeded'),
      (e: unknown) => e,
    );
    t.deepEqual({ ...(thrown as object) }, { reason: 'null-proto' }, where);
    t.is((await handle.status())?.attempts, 1, where);
  }
});

for (const kind of ['throwingGetter', 'revokedProxy'] as const) {
  test(`a step that threw an unencodable ${kind} is not run again on replay`, async (t) => {
    const skein = await launch(t, { workflows, threads: 1 });
    const key = unique('k');
    const handle = await skein.start(hv.poisonThenHang, { key, poison: kind });
    await waitFor(async () => (await count(`${key}:hang`)) === 1);
    await skein.killThread(handle.id);
    const err = await t.throwsAsync(handle.result(), { instanceOf: SerializationError });
    for (const re of describes[kind]) t.regex(err!.message, re);
    t.is(await count(`${key}:step`), 1, 'the replay returned the recorded failure');
    t.is(await count(`${key}:hang`), 2);
    t.is((await handle.status())?.attempts, 2, 'the kill is the only re-dispatch');
  });
}
