// Issue 11, point 6: a value that cannot be stored is named by its path inside the input,
// result or output (`input.conn._handle`), and the message never holds a function's source.
import test from 'ava';
import { SerializationError } from '../../runtime/index.ts';
import * as uv from '../fixtures/unstorable-values.ts';
import { launch, sql, unique } from '../support/helpers.ts';

const workflows = new URL('../fixtures/unstorable-values.ts', import.meta.url);

test('a function inside an input is named by its path, and nothing is written', async (t) => {
  const skein = await launch(t, { workflows, threads: 1 });
  const id = unique();
  const err = await t.throwsAsync(skein.start(uv.returnsConnection, uv.connection(), { id }), {
    instanceOf: SerializationError,
  });
  t.regex(err!.message, /input of workflow 'returnsConnection' cannot be stored: input\.conn\._handle is a function/);
  t.false(err!.message.includes(uv.SOURCE_MARKER), err!.message);
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [id]), []);
});

test('a function inside a step result or a workflow output is named by its path', async (t) => {
  const skein = await launch(t, { workflows, threads: 1 });
  const step = await t.throwsAsync(skein.run(uv.stepReturnsConnection, null), { instanceOf: SerializationError });
  t.regex(step!.message, /step 'connect' result cannot be stored: result\.conn\._handle is a function/);
  t.false(step!.message.includes(uv.SOURCE_MARKER), step!.message);
  const output = await t.throwsAsync(skein.run(uv.returnsConnection, null), { instanceOf: SerializationError });
  t.regex(output!.message, /workflow 'returnsConnection' output cannot be stored: output\.conn\._handle is a function/);
  t.false(output!.message.includes(uv.SOURCE_MARKER), output!.message);
});
