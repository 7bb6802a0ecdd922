// Issue 10, point 1: a write that fails for its own reason fails only its own workflow, with a
// typed error, and is not run again and again. Postgres refuses an index entry over 2,704
// bytes: an ID of 1,000 three-byte characters passes every length check and still cannot be
// stored.
import test from 'ava';
import { SerializationError } from '../../runtime/index.ts';
import { launch, sql } from '../support/helpers.ts';
import { sendTo, small } from '../fixtures/poison.ts';

const poisonModule = new URL('../fixtures/poison.ts', import.meta.url);

/** 1,000 CJK characters (3 bytes each in UTF-8), varied so the index entry does not compress. */
function wideId(seed: number): string {
  let s = '';
  for (let i = 0; i < 1000; i++) s += String.fromCharCode(0x4e00 + ((seed + i * 7919) % 20000));
  return s;
}

test('a start whose ID Postgres cannot index is a SerializationError, and nothing is written', async (t) => {
  const skein = await launch(t, { workflows: poisonModule });
  const id = wideId(1);
  await t.throwsAsync(skein.start(small, { key: 'k', steps: 1 }, { id }), { instanceOf: SerializationError, message: /cannot be stored/ });
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [id]), []);
});

test('a send Postgres cannot index ends its workflow ERROR with a SerializationError, after one attempt', async (t) => {
  const skein = await launch(t, { workflows: poisonModule });
  const handle = await skein.start(sendTo, wideId(2));
  await t.throwsAsync(handle.result(), { instanceOf: SerializationError });
  const [row] = await sql('SELECT status, attempts FROM skein.workflow_status WHERE id = $1', [handle.id]);
  t.deepEqual(row, { status: 'ERROR', attempts: 1 });
  t.is(await skein.run(small, { key: 'after', steps: 2 }), 2, 'the process goes on');
});
