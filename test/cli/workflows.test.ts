// `skein workflow ...` against a real database: what it lists and shows is what was started, and
// its management commands act on workflows whose executor is not running.
import test from 'ava';
import { Client } from '../../runtime/index.ts';
import * as wf from '../fixtures/manage.ts';
import { column, skeinCli } from '../support/cli.ts';
import { count } from '../support/counters.ts';
import { launch, sql, testDatabase, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/manage.ts', import.meta.url);

/** `skein <args> --db <this file's database>` */
async function cli(...args: string[]) {
  return skeinCli([...args, '--db', await testDatabase()]);
}

test('workflow list shows what was started, newest first, as a table and as JSON, with its filters', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const prefix = unique('list');
  const ids = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
  for (const id of ids) await skein.run(wf.fourSteps, { key: id }, { id });
  const failed = await skein.start(wf.fails, null, { id: `${prefix}-x` });
  await t.throwsAsync(failed.result(), { message: 'failed on purpose' });

  const json = await cli('workflow', 'list', '--id-prefix', prefix, '--json');
  t.is(json.code, 0, json.output);
  const listed = JSON.parse(json.stdout) as Record<string, unknown>[];
  t.deepEqual(listed.map((w) => w.id), [failed.id, ...ids.slice().reverse()], 'newest first');
  for (const w of listed.slice(1)) {
    t.like(w, { name: 'fourSteps', status: 'SUCCESS', input: { key: w.id }, output: [1, 1, 1, 1], attempts: 1, appVersion: skein.appVersion });
    t.false(Number.isNaN(Date.parse(w.createdAt as string)), 'times are ISO strings');
  }
  t.like(listed[0], { name: 'fails', status: 'ERROR', input: null, error: { name: 'Error', message: 'failed on purpose' } });

  const human = await cli('workflow', 'list', '--id-prefix', prefix);
  t.is(human.code, 0, human.output);
  t.is(human.stderr, '');
  t.deepEqual(column(human.stdout, 'ID'), ['ID', failed.id, ...ids.slice().reverse()]);
  t.deepEqual(column(human.stdout, 'STATUS'), ['STATUS', 'ERROR', 'SUCCESS', 'SUCCESS', 'SUCCESS']);
  t.deepEqual(column(human.stdout, 'OUTPUT / ERROR'), ['OUTPUT / ERROR', 'Error: failed on purpose', '[1,1,1,1]', '[1,1,1,1]', '[1,1,1,1]']);
  t.regex(column(human.stdout, 'CREATED (UTC)')[1]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \((now|\d+s ago)\)$/);

  const ids_ = async (...args: string[]) => {
    const r = await cli('workflow', 'list', '--id-prefix', prefix, '--json', ...args);
    t.is(r.code, 0, r.output);
    return (JSON.parse(r.stdout) as { id: string }[]).map((w) => w.id);
  };
  t.deepEqual(await ids_('--status', 'error'), [failed.id]);
  t.deepEqual(await ids_('--status', 'SUCCESS,ERROR', '--limit', '2'), [failed.id, ids[2]]);
  t.deepEqual(await ids_('--status', 'SUCCESS', '--asc', '--limit', '2', '--offset', '1'), [ids[1], ids[2]]);
  t.deepEqual(await ids_('--name', 'fails', '--name', 'nothing'), [failed.id]);
  t.deepEqual(await ids_('--app-version', skein.appVersion, '--since', '10m'), [failed.id, ...ids.slice().reverse()]);
  t.deepEqual(await ids_('--until', '2000-01-01'), []);
  const none = await cli('workflow', 'list', '--id-prefix', prefix, '--until', '2000-01-01T00:00:00Z');
  t.is(none.stdout.trim(), 'no workflows match');
});

test('workflow get shows a workflow whole, steps its steps; an unknown ID fails naming it', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const id = unique('get');
  await skein.run(wf.fourSteps, { key: id }, { id });
  const failed = await skein.start(wf.fails, null);
  await t.throwsAsync(failed.result());

  const got = await cli('workflow', 'get', id);
  t.is(got.code, 0, got.output);
  t.regex(got.stdout, new RegExp(`^id +${id}$`, 'm'));
  t.regex(got.stdout, /^status +SUCCESS$/m);
  t.regex(got.stdout, new RegExp(`^input +\\{"key":"${id}"\\}$`, 'm'));
  t.regex(got.stdout, /^output +\[1,1,1,1\]$/m);
  t.regex(got.stdout, /^completed +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(.+\), took /m);

  const error = await cli('workflow', 'get', failed.id);
  t.is(error.code, 0, error.output);
  t.regex(error.stdout, /^error +Error: failed on purpose\n +at /m, 'the full error, with its stack');

  const json = await cli('workflow', 'get', id, '--json');
  t.like(JSON.parse(json.stdout), { id, name: 'fourSteps', status: 'SUCCESS', output: [1, 1, 1, 1], executorId: skein.executorId });

  const steps = await cli('workflow', 'steps', id);
  t.is(steps.code, 0, steps.output);
  t.deepEqual(column(steps.stdout, 'NAME'), ['NAME', 's0', 's1', 's2', 's3']);
  t.deepEqual(column(steps.stdout, 'OUTPUT / ERROR'), ['OUTPUT / ERROR', '1', '1', '1', '1']);
  const stepsJson = JSON.parse((await cli('workflow', 'steps', id, '--json')).stdout) as { stepId: number; name: string; output: number }[];
  t.deepEqual(stepsJson.map((s) => [s.stepId, s.name, s.output]), [[0, 's0', 1], [1, 's1', 1], [2, 's2', 1], [3, 's3', 1]]);

  const unknown = unique('none');
  for (const command of ['get', 'steps', 'cancel', 'resume', 'fork', 'restart', 'delete']) {
    const r = await cli('workflow', command, unknown);
    t.is(r.code, 1, r.output);
    t.is(r.stdout, '', r.output);
    t.is(r.stderr, `skein: no workflow with ID '${unknown}'\n`, `workflow ${command}`);
  }
});

test('cancel, resume and fork work while no executor runs; a Skein launched later runs what they left', async (t) => {
  const appVersion = unique('v');
  const first = await launch(t, { workflows, appVersion });
  const key = unique('k');
  const waiting = await first.start(wf.gated, { key });
  await waitFor(async () => (await count(`${key}:first`)) === 1, 30_000, 'the first step of the gated workflow');
  const done = await first.start(wf.fourSteps, { key: unique('k') });
  await done.result();
  await first.shutdown();
  t.is((await sql('SELECT status FROM skein.workflow_status WHERE id = $1', [waiting.id]))[0].status, 'PENDING');

  const cancelled = await cli('workflow', 'cancel', waiting.id);
  t.is(cancelled.code, 0, cancelled.output);
  t.is(cancelled.stdout, `cancelled ${waiting.id} (was PENDING) and its children\n`);
  const again = await cli('workflow', 'cancel', waiting.id, '--json');
  t.deepEqual(JSON.parse(again.stdout), { id: waiting.id, status: 'CANCELLED', was: 'CANCELLED' });

  const resumed = await cli('workflow', 'resume', waiting.id, '--json');
  t.is(resumed.code, 0, resumed.output);
  t.deepEqual(JSON.parse(resumed.stdout), { id: waiting.id, status: 'ENQUEUED', queue: 'skein.internal' });

  const forkId = unique('fork');
  const forked = await cli('workflow', 'fork', done.id, '--start-step', '2', '--new-id', forkId);
  t.is(forked.code, 0, forked.output);
  t.is(forked.stdout, `forked ${done.id} from step 2 as ${forkId}\n`);
  const restarted = await cli('workflow', 'restart', done.id, '--json');
  t.is(restarted.code, 0, restarted.output);
  const restartId = (JSON.parse(restarted.stdout) as { id: string }).id;
  t.not(restartId, done.id);

  const finishedResume = await cli('workflow', 'resume', done.id);
  t.is(finishedResume.code, 1);
  t.regex(finishedResume.stderr, /^skein: workflow '.+' is SUCCESS: a finished workflow cannot be resumed.*\n$/);
  const beyond = await cli('workflow', 'fork', done.id, '--start-step', '9');
  t.is(beyond.code, 1);
  t.regex(beyond.stderr, /^skein: forkWorkflow options.startStep: 9 is beyond the 4 recorded step\(s\)/);

  // an executor of that app version, launched now, runs them all
  const second = await launch(t, { workflows, appVersion });
  await second.send(waiting.id, 'go', 'go');
  t.is(await second.retrieve<string>(waiting.id).result({ timeoutMs: 60_000 }), 'go');
  t.is(await count(`${key}:first`), 1, 'its completed step did not run again');
  const forkedRuns = await second.retrieve<number[]>(forkId).result({ timeoutMs: 60_000 });
  t.deepEqual(forkedRuns.slice(0, 2), [1, 1], 'the steps below --start-step were copied, not run');
  t.like(await second.retrieve(forkId).status(), { status: 'SUCCESS', forkedFrom: done.id });
  t.is((await second.retrieve<number[]>(restartId).result({ timeoutMs: 60_000 })).length, 4);
  t.like(await second.retrieve(restartId).status(), { status: 'SUCCESS', forkedFrom: done.id });
});

test('cancel of a finished workflow changes nothing; delete removes a workflow, with --children its descendants', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const done = await skein.start(wf.fourSteps, { key: unique('k') });
  await done.result();
  const nothing = await cli('workflow', 'cancel', done.id);
  t.is(nothing.code, 0, nothing.output);
  t.is(nothing.stdout, `workflow ${done.id} is SUCCESS: nothing to cancel\n`);

  const deleted = await cli('workflow', 'delete', done.id, '--json');
  t.is(deleted.code, 0, deleted.output);
  t.deepEqual(JSON.parse(deleted.stdout), { id: done.id, deleted: true, children: false });
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [done.id]), []);
  t.deepEqual(await sql('SELECT step_id FROM skein.steps WHERE workflow_id = $1', [done.id]), []);

  const tree = await skein.start(wf.family, { depth: 1, fanout: 2 });
  t.is(await tree.result(), 3);
  const ids = async () => (await sql('SELECT id FROM skein.workflow_status WHERE id = $1 OR parent_id = $1', [tree.id])).length;
  t.is(await ids(), 3);
  const family = await cli('workflow', 'delete', tree.id, '--children');
  t.is(family.code, 0, family.output);
  t.is(family.stdout, `deleted ${tree.id} and its descendants\n`);
  t.is(await ids(), 0);
});

test('executor list shows the live executors of the schema', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const human = await cli('executor', 'list');
  t.is(human.code, 0, human.output);
  const row = human.stdout.split('\n').find((l) => l.startsWith(`${skein.executorId} `));
  t.truthy(row, human.stdout);
  t.regex(row!, new RegExp(`^${skein.executorId} +yes +${skein.appVersion} +\\S+ +${process.pid} `));
  const json = JSON.parse((await cli('executor', 'list', '--json')).stdout) as Record<string, unknown>[];
  t.like(json.find((e) => e.executorId === skein.executorId), { alive: true, appVersion: skein.appVersion, pid: process.pid });
});

test('a Client sees what the CLI did: the CLI works on the schema a Client reads', async (t) => {
  // a workflow enqueued on a queue nobody serves stays ENQUEUED: the CLI cancels it for good
  await launch(t, { workflows, appVersion: unique('v') });
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const h = await client.enqueue({ workflow: 'fourSteps', queue: unique('nobody') }, { key: unique('k') });
  const r = await cli('workflow', 'cancel', h.id);
  t.is(r.stdout, `cancelled ${h.id} (was ENQUEUED) and its children\n`);
  t.is((await client.retrieve(h.id).status())?.status, 'CANCELLED');
});
