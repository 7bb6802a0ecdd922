import test from 'ava';
import { codecStats } from '../../common/codec.ts';
import * as wf from '../fixtures/workflows.ts';
import { launch, sql, unique } from '../support/helpers.ts';

test("a step's result reaches the workflow only after its checkpoint committed", async (t) => {
  const skein = await launch(t);
  // The second step reads, over another connection, what the first step's checkpoint wrote:
  // only committed rows are visible there.
  for (let i = 0; i < 20; i++) {
    const seen = await skein.run(wf.checkpointVisible, null);
    t.deepEqual(seen, [{ step_id: 0, name: 'first' }]);
  }
});

// serial: ava runs serial tests first and alone, so no other test's result() decodes meanwhile
test.serial('the main thread decodes no payloads while workflows run', async (t) => {
  const skein = await launch(t);
  const key = unique('k');
  const before = codecStats.decodes;
  const ids: string[] = [];
  for (let n = 0; n < 50; n++) ids.push((await skein.start(wf.threeSteps, { key, n })).id);
  // wait through SQL, not through handles: result() decodes the output on purpose
  for (;;) {
    const [row] = await sql(
      `SELECT count(*)::int AS n FROM skein.workflow_status WHERE id = ANY($1) AND status = 'SUCCESS'`,
      [ids],
    );
    if (row.n === ids.length) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.is(codecStats.decodes, before, 'no decode on the main thread for 50 workflows of 3 steps');
  await skein.retrieve(ids[0]!).result();
  t.is(codecStats.decodes, before + 1, 'result() decodes exactly the output it returns');
});
