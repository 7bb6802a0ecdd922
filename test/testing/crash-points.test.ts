// skein/testing's everyCrashPoint, run on real threads that it really ends: a correct workflow
// passes every crash point, one with an effect outside its steps is caught at the point that
// shows it, and what it is given is checked before anything runs.
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, SerializationError } from '../../runtime/index.ts';
import { clock, CrashPointError, database, everyCrashPoint } from '../../runtime/testing/index.ts';
import { kitDay, kitLeaky, kitOrder, kitQueued, kitSmall, kitTimesOut, kitUuid } from '../fixtures/kit.ts';
import { launch } from '../support/helpers.ts';

const workflows = new URL('../fixtures/kit.ts', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'skein-kit-'));
const lines = (id: string) => readFileSync(join(dir, `${id}.log`), 'utf8').split('\n').filter(Boolean);

test('a correct workflow passes every crash point, after each checkpoint and inside each step', async (t) => {
  const skein = await launch(t, { workflows });
  const report = await everyCrashPoint(skein, kitOrder, { dir, amount: 5 });
  const steps = await skein.getWorkflowSteps(report.baselineId);
  const names = steps.map((s) => s.name);
  // skein's own steps are crash points too: the sleep, send, recv, event, child start and result
  t.true(names.includes('skein.sleep') && names.includes('skein.recv') && names.includes('skein.start:kitChild'));
  const after = report.points.filter((p) => p.where === 'after-checkpoint');
  const inside = report.points.filter((p) => p.where === 'mid-step');
  t.deepEqual(after.map((p) => p.stepId), steps.map((s) => s.stepId));
  t.deepEqual(inside.map((p) => p.step), ['reserve', 'charge']);
  t.true(report.points.every((p) => p.reached && p.problems.length === 0));
  // a crash inside a step ran its function twice (at-least-once); after its checkpoint, once
  const reserveInside = inside.find((p) => p.step === 'reserve')!;
  t.deepEqual(lines(reserveInside.workflowId), ['reserve', 'reserve', 'charge']);
  const reserveAfter = after.find((p) => p.step === 'reserve')!;
  t.deepEqual(lines(reserveAfter.workflowId), ['reserve', 'charge']);
  // every crashed run ended as the uncrashed one did
  for (const p of report.points) t.deepEqual(await skein.retrieve(p.workflowId).result(), { reserved: 10, charged: 26 });
});

test('an effect outside a step is caught, and the failure names the crash point', async (t) => {
  const skein = await launch(t, { workflows });
  const err = await t.throwsAsync(everyCrashPoint(skein, kitLeaky, dir, { where: 'after-checkpoint' }), { instanceOf: CrashPointError });
  t.regex(err!.message, /after-checkpoint of step 0 'first' \(workflow [^)]+\): returned 5; the uncrashed run returned 4/);
  t.regex(err!.message, /after-checkpoint of step 1 'second'/);
  t.regex(err!.message, /2 of 2 crash points failed/);
  const [first] = err!.report.points;
  t.deepEqual(lines(first!.workflowId), ['visit', 'visit']);
});

test('expect sets the outcome every run must have, the uncrashed one included', async (t) => {
  const skein = await launch(t, { workflows });
  const err = await t.throwsAsync(
    everyCrashPoint(skein, kitOrder, { dir, amount: 1 }, { where: 'mid-step', expect: { reserved: 2, charged: 0 } }),
    { instanceOf: CrashPointError },
  );
  t.regex(err!.message, /2 of 2 crash points failed, and the uncrashed run\n/);
  t.regex(err!.message, /uncrashed run \(workflow [^)]+-base\): returned \{ reserved: 2, charged: 6 \}; expected \{ reserved: 2, charged: 0 \}/);
  t.regex(err!.message, /mid-step of step 0 'reserve'/);
  const ok = await everyCrashPoint(skein, kitOrder, { dir, amount: 1 }, { where: 'mid-step', expect: { reserved: 2, charged: 6 } });
  t.is(ok.points.length, 2);
});

// serial: ava runs it before the others, so no other test's workflows change the count
test.serial('what everyCrashPoint is given is checked before anything runs', async (t) => {
  const skein = await launch(t, { workflows });
  const before = (await skein.listWorkflows()).length;
  await t.throwsAsync(everyCrashPoint({} as never, kitOrder, { dir, amount: 1 }), { instanceOf: ConfigError, message: /first argument must be a Skein/ });
  await t.throwsAsync(everyCrashPoint(skein, (() => 1) as never, 1), { instanceOf: ConfigError, message: /made by workflow\(\)/ });
  await t.throwsAsync(everyCrashPoint(skein, kitOrder, { dir, amount: 1 }, { where: 'inside' as never }), { instanceOf: ConfigError, message: /options\.where must be/ });
  await t.throwsAsync(everyCrashPoint(skein, kitOrder, { dir, amount: 1 }, { retries: 2 } as never), { instanceOf: ConfigError, message: /unknown option everyCrashPoint options\.retries/ });
  await t.throwsAsync(everyCrashPoint(skein, kitOrder, { dir, amount: 1 }, { process: 'yes' } as never), { instanceOf: ConfigError, message: /options\.process must be/ });
  // an input that cannot be stored is the caller's error, not an outcome every crash point shares
  await t.throwsAsync(everyCrashPoint(skein, kitOrder, { dir, amount: 1, f: () => 1 } as never), { instanceOf: SerializationError });
  const { threeSteps } = await import('../fixtures/workflows.ts');
  await t.throwsAsync(everyCrashPoint(skein, threeSteps, { key: 'k', n: 1 }), { instanceOf: ConfigError, message: /'threeSteps' is not exported by this Skein's workflows module/ });
  t.is((await skein.listWorkflows()).length, before);
});

test('process: true crashes a whole process at each point, and this Skein takes the run over', async (t) => {
  t.timeout(5 * 60_000); // a launch of a child process per crash point
  const skein = await launch(t, { workflows });
  const report = await everyCrashPoint(skein, kitSmall, dir, { process: true });
  t.deepEqual(report.points.map((p) => `${p.where} ${p.step}`), [
    'after-checkpoint a', 'mid-step a', 'after-checkpoint skein.sleep', 'after-checkpoint b', 'mid-step b',
  ]);
  t.true(report.points.every((p) => p.reached && p.problems.length === 0));
  // the crashed run was finished here, by this Skein, after its process died
  for (const p of report.points) t.is((await skein.retrieve(p.workflowId).status())?.executorId, skein.executorId);
  t.deepEqual(lines(report.points[1]!.workflowId), ['a', 'a', 'b']); // mid-step: 'a' ran in the child, and again here
  t.deepEqual(lines(report.points[0]!.workflowId), ['a', 'b']);
  const err = await t.throwsAsync(everyCrashPoint(skein, kitLeaky, dir, { process: true, where: 'after-checkpoint' }), { instanceOf: CrashPointError });
  t.regex(err!.message, /2 of 2 crash points failed/);
});

test('expect as a function judges outcomes that differ from run to run by design', async (t) => {
  const skein = await launch(t, { workflows });
  const err = await t.throwsAsync(everyCrashPoint(skein, kitUuid, undefined, { where: 'after-checkpoint' }), { instanceOf: CrashPointError });
  t.regex(err!.message, /returned \{ orderId: '[0-9a-f-]+', n: 3, workflowId: '[^']+' \}; the uncrashed run returned/);
  const seen: string[] = [];
  const report = await everyCrashPoint(skein, kitUuid, undefined, {
    expect: (out, run) => {
      seen.push(run.workflowId);
      return out.n === 3 && out.workflowId === run.workflowId && /^[0-9a-f-]{36}$/.test(out.orderId);
    },
  });
  t.deepEqual(seen.sort(), [report.baselineId, ...report.points.map((p) => p.workflowId)].sort());
  const refused = await t.throwsAsync(everyCrashPoint(skein, kitUuid, undefined, { where: 'mid-step', expect: () => false }), { instanceOf: CrashPointError });
  t.regex(refused!.message, /1 of 1 crash points failed, and the uncrashed run/);
  t.regex(refused!.message, /expect returned false/);
});

test("a workflow that ends with skein's own TimeoutError is an outcome, not the kit's timeout", async (t) => {
  const skein = await launch(t, { workflows });
  const report = await everyCrashPoint(skein, kitTimesOut, undefined, { timeoutMs: 30_000 });
  t.is(report.points.length, 4);
  t.true(report.points.every((p) => p.problems.length === 0));
});

test('on a Skein with a test clock, time skips while crash runs wait: a sleep of a day is tested in seconds', async (t) => {
  const db = await database({ url: process.env.SKEIN_TEST_DATABASE_URL });
  t.teardown(() => db.drop());
  const time = clock();
  const skein = await launch(t, { workflows, clock: time, databaseUrl: db.url });
  const before = time.now();
  // it returns how long it slept by its own clock: a day and the few ms the run took
  const report = await everyCrashPoint(skein, kitDay, undefined, { timeoutMs: 60_000, expect: (slept) => slept >= 24 * 3_600_000 && slept < 25 * 3_600_000 });
  t.deepEqual(report.points.map((p) => p.step), ['skein.now', 'skein.sleep', 'skein.now']);
  t.true(time.now() - before >= 24 * 3_600_000);
});

test('process: true runs the child process as this Skein runs: its queues reach the crashed run', async (t) => {
  t.timeout(5 * 60_000);
  const skein = await launch(t, { workflows, queues: [{ name: 'kitq' }] });
  const report = await everyCrashPoint(skein, kitQueued, 2, { process: true, where: 'after-checkpoint' });
  t.deepEqual(report.points.map((p) => p.step), ['skein.start:kitChild', 'a', 'skein.getResult']);
  t.true(report.points.every((p) => p.reached && p.problems.length === 0));
});
