// `skein queue list` on real queue rows (due, delayed, running on a live executor) and
// `skein schedule ...` on dynamic schedules made by a Client.
import test from 'ava';
import { Client } from '../../runtime/index.ts';
import * as wf from '../fixtures/manage.ts';
import { skeinCli } from '../support/cli.ts';
import { launch, sql, testDatabase, unique, waitFor } from '../support/helpers.ts';

const workflows = new URL('../fixtures/manage.ts', import.meta.url);

async function cli(...args: string[]) {
  return skeinCli([...args, '--db', await testDatabase()]);
}

test('queue list counts due, delayed and running workflows of each queue, running by executor', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { workflows, appVersion: unique('v'), queues: [{ name: queue, workerConcurrency: 1 }] });
  // one runs (it waits for a message it never gets), two wait their turn, one is not due for an hour
  for (let i = 0; i < 3; i++) await skein.start(wf.gated, { key: unique('k') }, { queue });
  await skein.start(wf.gated, { key: unique('k') }, { queue, delayMs: 3_600_000 });
  // a queue nobody serves, from a Client: its rows only wait
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const idle = unique('idle');
  await client.enqueue({ workflow: 'gated', queue: idle }, { key: unique('k') });
  await waitFor(
    async () => (await sql("SELECT 1 FROM skein.workflow_status WHERE queue = $1 AND status = 'PENDING'", [queue])).length === 1,
    30_000,
    'the first workflow of the queue running',
  );

  const json = await cli('queue', 'list', '--json');
  t.is(json.code, 0, json.output);
  const queues = JSON.parse(json.stdout) as { queue: string }[];
  t.deepEqual(queues.find((q) => q.queue === queue), {
    queue,
    enqueued: 2,
    delayed: 1,
    running: 1,
    runningByExecutor: { [skein.executorId]: 1 },
  });
  t.deepEqual(queues.find((q) => q.queue === idle), { queue: idle, enqueued: 1, delayed: 0, running: 0, runningByExecutor: {} });
  t.deepEqual(await client.listQueues(), queues, 'the same as the API');

  const human = await cli('queue', 'list');
  t.is(human.code, 0, human.output);
  const lines = human.stdout.trimEnd().split('\n');
  t.regex(lines[0]!, /^QUEUE +ENQUEUED +DELAYED +RUNNING +RUNNING BY EXECUTOR$/);
  t.truthy(lines.find((l) => new RegExp(`^${queue} +2 +1 +1  ${skein.executorId}: 1$`).test(l)), human.stdout);
  t.truthy(lines.find((l) => new RegExp(`^${idle} +1 +0 +0  -$`).test(l)), human.stdout);
  // the numbers line up under their headers, on the right
  const row = lines.find((l) => l.startsWith(`${queue} `))!;
  t.is(row.indexOf('RUNNING BY EXECUTOR'), -1);
  t.is(row.lastIndexOf('1  '), lines[0]!.indexOf('RUNNING') + 'RUNNING'.length - 1);
});

test('schedule list, pause, resume, trigger and backfill act on the schedules stored in Postgres', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const client = await Client.connect({ databaseUrl: await testDatabase() });
  t.teardown(() => client.close());
  const id = unique('sched');
  // hourly, Paris time, at a minute half an hour from now: no tick of its own runs during the test
  // (one at minute 0 ran beside the trigger on a CI run that crossed the hour, and counted twice);
  // its runs go to the internal queue, which every Skein serves
  const mm = String((new Date().getUTCMinutes() + 30) % 60).padStart(2, '0');
  await client.createSchedule({ id, workflow: 'fourSteps', cron: `0 ${mm} * * * *`, timezone: 'Europe/Paris', input: { key: id } });

  const listed = await cli('schedule', 'list');
  t.is(listed.code, 0, listed.output);
  t.regex(listed.stdout, /^ID +WORKFLOW +CRON +TIMEZONE +QUEUE +STATE +NEXT TICK \(UTC\)$/m);
  t.regex(listed.stdout, new RegExp(`^${id} +fourSteps +0 ${mm} \\* \\* \\* \\* +Europe/Paris +- +active +\\d{4}-\\d\\d-\\d\\d \\d\\d:${mm}:00 \\(in \\d+m\\)$`, 'm'));

  const paused = await cli('schedule', 'pause', id);
  t.is(paused.code, 0, paused.output);
  t.is(paused.stdout, `paused schedule ${id}\n`);
  const one = async () => (JSON.parse((await cli('schedule', 'list', '--json')).stdout) as { id: string }[]).find((s) => s.id === id);
  t.like(await one(), { id, workflow: 'fourSteps', paused: true, timezone: 'Europe/Paris' });
  t.is((await cli('schedule', 'resume', id)).stdout, `resumed schedule ${id}\n`);
  t.like(await one(), { paused: false });

  const triggered = await cli('schedule', 'trigger', id, '--json');
  t.is(triggered.code, 0, triggered.output);
  const { workflowId } = JSON.parse(triggered.stdout) as { workflowId: string };
  t.deepEqual(await skein.retrieve(workflowId).result({ timeoutMs: 60_000 }), [1, 1, 1, 1]);
  t.like(await skein.retrieve(workflowId).status(), { scheduleId: id, input: { key: id } });

  // the two hourly ticks between 3 h and 1 h ago
  const backfilled = await cli('schedule', 'backfill', id, '--from', '3h', '--to', '1h', '--json');
  t.is(backfilled.code, 0, backfilled.output);
  const runs = (JSON.parse(backfilled.stdout) as { workflowIds: string[] }).workflowIds;
  t.is(runs.length, 2, backfilled.stdout);
  for (const run of runs) t.regex(run, new RegExp(`^schedule-${id}-\\d{4}-\\d\\d-\\d\\dT\\d\\d:${mm}:00\\.000Z$`));
  const again = await cli('schedule', 'backfill', id, '--from', '3h', '--to', '1h');
  t.is(again.stdout, `backfilled schedule ${id}: 2 tick(s) enqueued or already run\n`);
  t.is((await sql('SELECT count(*)::int AS n FROM skein.workflow_status WHERE id = ANY($1)', [runs]))[0].n, 2, 'each tick once');

  const future = await cli('schedule', 'backfill', id, '--from', '1h', '--to', '2099-01-01');
  t.is(future.code, 1);
  t.regex(future.stderr, /^skein: backfillSchedule to: 2099-01-01T00:00:00.000Z is in the future.*\n$/);
  const unknown = await cli('schedule', 'pause', 'no-such-schedule');
  t.is(unknown.code, 1);
  t.is(unknown.stderr, "skein: no schedule with ID 'no-such-schedule'\n");
  const missing = await cli('schedule', 'backfill', id, '--from', '3h');
  t.is(missing.code, 1);
  t.is(missing.stderr, "skein: required option '--to <when>' not specified\n");
});
