// handle.result({ timeoutMs }): the caller's wait ends with a TimeoutError, the workflow does
// not; a finished workflow answers whatever the timeout.
import test from 'ava';
import { TimeoutError } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { launch } from '../support/helpers.ts';

test('result({ timeoutMs }) rejects with TimeoutError while the workflow runs on, and a later result() gets it', async (t) => {
  const skein = await launch(t);
  // it ends only when told to: nothing but the timeout can end the first wait
  const handle = await skein.start(wf.receiver, { topics: ['go'], timeoutMs: 60_000 });
  const err = await t.throwsAsync(handle.result({ timeoutMs: 200 }), { instanceOf: TimeoutError });
  t.regex(err!.message, /did not finish within 200 ms .*goes on running/);
  t.is((await handle.status())?.status, 'PENDING');
  await skein.send(handle.id, 'now', 'go');
  t.deepEqual(await handle.result(), ['now']);
});

test('a finished workflow answers result({ timeoutMs: 0 }), locally and from a fresh handle', async (t) => {
  const skein = await launch(t);
  const handle = await skein.start(wf.echo, 'done');
  t.is(await handle.result(), 'done');
  for (let i = 0; i < 20; i++) {
    t.is(await skein.retrieve(handle.id).result({ timeoutMs: 0 }), 'done');
  }
});
