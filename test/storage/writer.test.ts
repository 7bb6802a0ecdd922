import test from 'ava';
import { createPool } from '../../storage/database.ts';
import { migrate } from '../../storage/migrate.ts';
import type { NewStep, NewWorkflow, WriteOp } from '../../storage/write-ops.ts';
import { GroupCommitWriter } from '../../storage/writer.ts';
import { ConflictError } from '../../common/errors.ts';
import { sql, testDatabase, unique } from '../support/helpers.ts';

async function setup(t: import('ava').ExecutionContext) {
  const pool = createPool(await testDatabase(), 4, () => {});
  t.teardown(() => pool.end());
  await migrate(pool, 'skein');
  return { pool, writer: new GroupCommitWriter(pool, 'skein') };
}

const workflowRow = (id: string): NewWorkflow => ({
  id, name: 'w', status: 'PENDING', input: new Uint8Array([1, 0, 0]), executorId: 'e',
  appVersion: 'v', queue: null, priority: 0, dedupId: null, parentId: null, userName: null,
  timeoutMs: null, deadline: null,
});
const stepRow = (workflowId: string, stepId: number): NewStep => ({
  workflowId, stepId, name: `s${stepId}`, output: new Uint8Array([1, 0, stepId]), error: null,
  childWorkflowId: null, startedAt: Date.now(),
});
const insert = (id: string): WriteOp => ({ kind: 'insertWorkflow', row: workflowRow(id) });
const step = (id: string, n: number): WriteOp => ({ kind: 'recordStep', row: stepRow(id, n) });

test('concurrent writes share flushes: one transaction carries many units', async (t) => {
  const { writer } = await setup(t);
  const id = unique();
  await writer.write([insert(id)]);
  const before = writer.stats();
  await Promise.all(Array.from({ length: 300 }, (_, n) => writer.write([step(id, n)])));
  const after = writer.stats();
  t.is(after.units - before.units, 300);
  t.true(after.flushes - before.flushes < 30, `${after.flushes - before.flushes} flushes for 300 units`);
  const [row] = await sql('SELECT count(*)::int AS n FROM skein.steps WHERE workflow_id = $1', [id]);
  t.is(row.n, 300);
});

test('an idle writer flushes a lone write at once', async (t) => {
  const { writer } = await setup(t);
  const before = writer.stats();
  await writer.write([insert(unique())]);
  t.is(writer.stats().flushes - before.flushes, 1);
  t.is(writer.stats().transactions - before.transactions, 1);
});

test('a step recorded twice: the first wins, the second is a ConflictError', async (t) => {
  const { writer } = await setup(t);
  const id = unique();
  await writer.write([insert(id)]);
  const [a, b] = await Promise.allSettled([writer.write([step(id, 0)]), writer.write([step(id, 0)])]);
  t.is(a.status, 'fulfilled');
  t.is(b.status, 'rejected');
  t.true((b as PromiseRejectedResult).reason instanceof ConflictError);
  await t.throwsAsync(writer.write([step(id, 0)]), { instanceOf: ConflictError });
});

test('inserting an existing workflow ID reports false and changes nothing', async (t) => {
  const { writer } = await setup(t);
  const id = unique();
  t.deepEqual(await writer.write([insert(id)]), [true]);
  t.deepEqual(await writer.write([{ kind: 'insertWorkflow', row: { ...workflowRow(id), name: 'other' } }]), [false]);
  t.deepEqual(await sql('SELECT name FROM skein.workflow_status WHERE id = $1', [id]), [{ name: 'w' }]);
});

test('one failing unit does not fail the units flushed with it', async (t) => {
  const { writer } = await setup(t);
  const id = unique();
  await writer.write([insert(id)]);
  // a NUL in a text column: the server refuses the whole statement it is in
  const results = await Promise.allSettled([
    writer.write([step(id, 0)]),
    writer.write([{ kind: 'recordStep', row: { ...stepRow(id, 5), name: 'bad\u0000name' } }]),
    writer.write([step(id, 1)]),
  ]);
  t.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  t.regex(String((results[1] as PromiseRejectedResult).reason), /0x00/);
  const [row] = await sql('SELECT count(*)::int AS n FROM skein.steps WHERE workflow_id = $1', [id]);
  t.is(row.n, 2);
});

test('a unit of several writes is atomic: a lost step undoes its other writes', async (t) => {
  const { writer } = await setup(t);
  const id = unique();
  const child = unique('child');
  await writer.write([insert(id)]);
  await writer.write([step(id, 0)]);
  const results = await Promise.allSettled([
    writer.write([insert(child), step(id, 0)]), // loses on step 0
    writer.write([step(id, 1)]),
  ]);
  t.true((results[0] as PromiseRejectedResult).reason instanceof ConflictError);
  t.is(results[1].status, 'fulfilled');
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [child]), []);
});

test('finishing applies only to PENDING workflows of the finishing executor', async (t) => {
  const { writer } = await setup(t);
  const id = unique();
  await writer.write([insert(id)]);
  const finish = (status: 'SUCCESS' | 'ERROR', executorId = 'e'): WriteOp => ({
    kind: 'finishWorkflow',
    row: { id, executorId, status, output: new Uint8Array([1, 0, 9]), error: null },
  });
  // a run that lost the workflow to another executor does not finish that executor's run
  t.deepEqual(await writer.write([finish('SUCCESS', 'another')]), [false]);
  t.deepEqual(await writer.write([finish('SUCCESS')]), [true]);
  t.deepEqual(await writer.write([finish('ERROR')]), [false]);
  t.deepEqual(await sql('SELECT status FROM skein.workflow_status WHERE id = $1', [id]), [{ status: 'SUCCESS' }]);
});

test('writes awaited one after another never stall (a write landing as a flush ends is flushed)', async (t) => {
  t.timeout(20_000, 'a write was left in the queue with no flush to take it');
  const { writer } = await setup(t);
  const id = unique();
  await writer.write([insert(id)]);
  // Callers reach write() through some async frames (start() has several); the window between
  // a flush finding the queue empty and the writer counting it as done is a few microtasks
  // wide, so try a range of depths.
  const through = async (depth: number, ops: WriteOp[]): Promise<boolean[]> =>
    depth === 0 ? writer.write(ops) : await through(depth - 1, ops);
  let n = 0;
  for (let depth = 0; depth < 8; depth++) {
    for (let i = 0; i < 40; i++) await through(depth, [step(id, n++)]);
  }
  const [row] = await sql('SELECT count(*)::int AS n FROM skein.steps WHERE workflow_id = $1', [id]);
  t.is(row.n, n);
});

test('a value the driver cannot send fails its own unit only, and its connection is not reused', async (t) => {
  // One connection, so a poisoned one would be the one every later flush gets. A value whose
  // conversion throws stands for what a 256 MB batch once did ("Invalid string length"): the
  // driver fails while building the message, after it sent the statement to be prepared.
  const pool = createPool(await testDatabase(), 1, () => {});
  t.teardown(() => pool.end());
  await migrate(pool, 'skein');
  const writer = new GroupCommitWriter(pool, 'skein');
  const id = unique();
  await writer.write([insert(id)]);
  const unsendable = { toPostgres: () => { throw new RangeError('Invalid string length'); } };
  const bad: WriteOp = { kind: 'recordStep', row: { ...stepRow(id, 1), name: unsendable as unknown as string } };
  for (let round = 0; round < 3; round++) {
    const results = await Promise.allSettled([
      writer.write([step(id, round * 10)]),
      writer.write([bad]),
      writer.write([step(id, round * 10 + 2)]),
    ]);
    t.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled'], `round ${round}`);
    t.regex(String((results[1] as PromiseRejectedResult).reason), /Invalid string length/);
    // alone too (no batch to fall back from)
    await t.throwsAsync(writer.write([bad]), { message: /Invalid string length/ });
    t.deepEqual(await writer.write([step(id, round * 10 + 3)]), [true], `a lone write after round ${round}`);
  }
  t.true(writer.stats().failedFlushes >= 3);
});

test('large payloads go alone, in binary, and read back intact', async (t) => {
  const { writer } = await setup(t);
  const id = unique();
  await writer.write([insert(id)]);
  const big = (n: number) => {
    const b = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < b.length; i++) b[i] = (i * 31 + n) & 0xff;
    return b;
  };
  const before = writer.stats();
  await Promise.all([
    ...[0, 1, 2].map((n) => writer.write([{ kind: 'recordStep', row: { ...stepRow(id, n), output: big(n) } }])),
    ...Array.from({ length: 50 }, (_, n) => writer.write([step(id, 10 + n)])),
  ]);
  const flushes = writer.stats().flushes - before.flushes;
  t.true(flushes >= 4, `three large units alone plus the small ones: ${flushes} flushes`);
  t.true(flushes < 30, `the small ones still share flushes: ${flushes}`);
  const rows = await sql<{ step_id: number; output: Buffer }>(
    'SELECT step_id, output FROM skein.steps WHERE workflow_id = $1 AND step_id < 3 ORDER BY step_id', [id]);
  t.deepEqual(rows.map((r) => Buffer.compare(r.output, Buffer.from(big(r.step_id)))), [0, 0, 0]);
});

test('a write the server refuses keeps its connection; one the driver could not send does not', async (t) => {
  const pool = createPool(await testDatabase(), 1, () => {});
  t.teardown(() => pool.end());
  await migrate(pool, 'skein');
  const writer = new GroupCommitWriter(pool, 'skein');
  const pid = async () => (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  const before = await pid();
  // a NUL in a text column: the server refuses it
  const id = unique();
  await writer.write([insert(id)]);
  await t.throwsAsync(writer.write([{ kind: 'recordStep', row: { ...stepRow(id, 0), name: 'bad\u0000name' } }]), { message: /0x00/ });
  t.is(await pid(), before, 'the same connection goes on');
  const unsendable = { toPostgres: () => { throw new RangeError('Invalid string length'); } };
  await t.throwsAsync(writer.write([{ kind: 'recordStep', row: { ...stepRow('x', 1), name: unsendable as unknown as string } }]));
  t.not(await pid(), before, 'a connection the driver failed on is replaced');
});
