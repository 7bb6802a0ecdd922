// Where a schedule's runs go: a queue must be able to take them. A Skein knows its own queues,
// so a static or dynamic schedule on a queue it does not declare, or on a partitioned one (runs
// carry no partitionKey), is a ConfigError that stores nothing. A backfill whose run IDs belong
// to another workflow (the schedule was re-created for another) is a ConflictError.
import test from 'ava';
import { ConfigError, ConflictError, Skein } from '../../runtime/index.ts';
import { launch, sql, unique } from '../support/helpers.ts';

const workflows = new URL('../fixtures/time.ts', import.meta.url);
const queuedModule = new URL('../fixtures/time-queued-schedule.ts', import.meta.url);

test.before(async () => {
  await sql('CREATE TABLE IF NOT EXISTS time_runs (id text PRIMARY KEY, tag text, input text, started_at timestamptz)');
});

test('a static schedule on an undeclared or partitioned queue is a ConfigError at launch', async (t) => {
  const base = { workflows: queuedModule, databaseUrl: 'postgres://nobody@127.0.0.1:1/none' };
  await t.throwsAsync(Skein.launch(base), { instanceOf: ConfigError, message: /workflow 'queuedTick': options\.queue: 'nightly' is not declared/ });
  await t.throwsAsync(Skein.launch({ ...base, queues: [{ name: 'nightly', partitionConcurrency: 1 }] }), {
    instanceOf: ConfigError,
    message: /workflow 'queuedTick': options\.queue: queue 'nightly' is partitioned/,
  });
});

test("Skein.createSchedule refuses a queue it does not declare, and a partitioned one, storing nothing", async (t) => {
  const parts = unique('parts');
  const skein = await launch(t, { workflows, appVersion: unique('v'), queues: [{ name: parts, partitionConcurrency: 1 }] });
  const id = unique('s');
  await t.throwsAsync(skein.createSchedule({ id, workflow: 'stamped', cron: '* * * * *', queue: 'typo' }), {
    instanceOf: ConfigError,
    message: /createSchedule options\.queue: 'typo' is not declared/,
  });
  await t.throwsAsync(skein.createSchedule({ id, workflow: 'stamped', cron: '* * * * *', queue: parts }), {
    instanceOf: ConfigError,
    message: /is partitioned/,
  });
  t.deepEqual(await sql('SELECT id FROM skein.schedules WHERE id = $1', [id]), []);
});

test('a backfill over runs of a schedule re-created for another workflow is a ConflictError', async (t) => {
  const skein = await launch(t, { workflows, appVersion: unique('v') });
  const id = unique('s');
  await skein.createSchedule({ id, workflow: 'stamped', cron: '* * * * * *', input: { tag: id } });
  await skein.pauseSchedule(id);
  const to = new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000);
  const from = new Date(to.getTime() - 2000);
  const runs = await skein.backfillSchedule(id, from, to);
  t.is(runs.length, 3);
  await Promise.all(runs.map((r) => r.result()));
  await skein.deleteSchedule(id);
  await skein.createSchedule({ id, workflow: 'partitioned', cron: '* * * * * *' });
  t.teardown(() => skein.deleteSchedule(id).catch(() => {}));
  await skein.pauseSchedule(id);
  await t.throwsAsync(skein.backfillSchedule(id, from, to), { instanceOf: ConflictError, message: /belongs to workflow 'stamped'/ });
});
