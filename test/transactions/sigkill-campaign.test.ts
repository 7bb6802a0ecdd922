// Issue 14, acceptance: ctx.transaction across real process deaths. 200 workflows of three
// counter-incrementing transactions run in a child process that is SIGKILLed again and again at
// random moments; each new child, on the same executor ID, recovers at launch what the last one
// left, and the last child runs everything to the end. A transaction committed twice would
// leave its counter at 2.
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { Client } from '../../runtime/index.ts';
import { seeded } from '../support/campaign.ts';
import { migrated, spawnFixture, sql, testDatabase, unique, waitFor } from '../support/helpers.ts';

const WORKFLOWS = 200;
const MIN_KILLS = 6;
/**
 * A child is killed once it committed 1 to this many transactions of its own: even 10 kills
 * leave most of the 600 for the last child, so every kill finds work under way.
 */
const MAX_COMMITS_PER_CHILD = 40;
/**
 * Only there so a stalled campaign fails saying what it waited for: a cold child under tsx
 * boots in seconds even on a loaded machine, and then commits many transactions a second.
 */
const STALL_MS = 120_000;

test.before(async () => {
  // skein's tables exist before the first child launches: progress is read from the start
  await migrated();
  await sql('CREATE TABLE IF NOT EXISTS tx_counters (key text PRIMARY KEY, n integer NOT NULL)');
});

test('SIGKILL campaign: 200 workflows of 3 transactions end SUCCESS, every counter exactly 1', async (t) => {
  t.timeout(300_000);
  const started = Date.now();
  const databaseUrl = await testDatabase();
  const executorId = unique('exec');
  const prefix = unique('campaign');
  const ids = Array.from({ length: WORKFLOWS }, (_, i) => `${prefix}-${i}`);
  const random = seeded(1414);
  const kills = MIN_KILLS + Math.floor(random() * 5);

  const countOf = async (text: string) => (await sql<{ n: number }>(text, [prefix]))[0]!.n;
  const committed = () =>
    countOf('SELECT count(*)::int AS n FROM skein.transaction_outputs WHERE starts_with(workflow_id, $1)');
  const finished = () =>
    countOf(`SELECT count(*)::int AS n FROM skein.workflow_status WHERE starts_with(id, $1) AND status NOT IN ('PENDING', 'ENQUEUED')`);
  // committed but not checkpointed when the process died: what a replay that missed the
  // record would commit a second time
  const inDoubt = async () =>
    (await sql<{ at: string }>(
      `SELECT o.workflow_id || ':' || o.step_id AS at FROM skein.transaction_outputs o
       WHERE starts_with(o.workflow_id, $1)
         AND NOT EXISTS (SELECT 1 FROM skein.steps s WHERE s.workflow_id = o.workflow_id AND s.step_id = o.step_id)`,
      [prefix],
    )).map((r) => r.at);

  const live = new Set<ChildProcess>();
  t.teardown(() => live.forEach((child) => child.kill('SIGKILL')));
  const launchChild = () => {
    const child = spawnFixture('child-transactions.ts', [databaseUrl, executorId, prefix, String(WORKFLOWS)]);
    live.add(child);
    const exited = once(child, 'exit').finally(() => live.delete(child));
    exited.catch(() => {}); // awaited after the kill, unless a wait fails first
    return { child, exited };
  };
  // a child that dies of itself (a launch that throws, a crash) is a failure, not a kill
  const running = (child: ChildProcess, which: string) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${which} exited by itself (${child.signalCode ?? `code ${child.exitCode}`})`);
    }
    return true;
  };

  let landed = 0;
  const doubted = new Set<string>();
  for (let k = 1; k <= kills; k++) {
    // progress, not time, picks the moment: a loaded machine slows the child, not the campaign
    let seen = await committed();
    const target = seen + 1 + Math.floor(random() * MAX_COMMITS_PER_CHILD);
    const { child, exited } = launchChild();
    await waitFor(
      async () => running(child, `child ${k}`) && (seen = await committed()) >= target,
      STALL_MS,
      () => `child ${k} committing transaction ${target} (at ${seen})`,
    );
    child.kill('SIGKILL');
    await exited;
    for (const at of await inDoubt()) doubted.add(at);
    if ((await finished()) < WORKFLOWS) landed++;
  }

  const last = launchChild();
  let done = 0;
  await waitFor(
    async () => running(last.child, 'the last child') && (done = await finished()) === WORKFLOWS,
    STALL_MS,
    () => `every workflow finishing in the last child (${done} of ${WORKFLOWS} finished)`,
  );
  last.child.kill('SIGKILL');
  await last.exited;

  const counters = await sql<{ key: string; n: number }>('SELECT key, n FROM tx_counters WHERE starts_with(key, $1)', [prefix]);
  const client = await Client.connect({ databaseUrl });
  t.teardown(() => client.close());
  const statuses = await client.listWorkflows({ ids });
  const records = await sql<{ workflow_id: string; n: number }>(
    'SELECT workflow_id, count(*)::int AS n FROM skein.transaction_outputs WHERE starts_with(workflow_id, $1) GROUP BY workflow_id',
    [prefix],
  );
  // before the assertions, which end the test at the first failure
  const recoveries = statuses.reduce((sum, s) => sum + s.attempts, 0) - WORKFLOWS;
  t.log(
    `${kills} kills, ${landed} landed while work was pending; ${doubted.size} transactions found committed ` +
      `but not checkpointed after a kill; ${recoveries} runs after an interruption; ` +
      `${counters.filter((c) => c.n !== 1).length} counters not at 1; ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  t.is(counters.length, 3 * WORKFLOWS, 'one counter per transaction');
  t.deepEqual(counters.filter((c) => c.n !== 1), [], 'no transaction committed twice');
  t.is(statuses.length, WORKFLOWS, 'every workflow was started');
  t.deepEqual(statuses.filter((s) => s.status !== 'SUCCESS').map((s) => [s.id, s.status]), [], 'every workflow SUCCESS');
  t.deepEqual(statuses.filter((s) => !isDeepStrictEqual(s.output, [1, 1, 1])).map((s) => [s.id, s.output]), [], 'every output [1, 1, 1]');
  t.is(records.length, WORKFLOWS);
  t.deepEqual(records.filter((r) => r.n !== 3), [], 'three transaction records per workflow');
  t.true(landed >= MIN_KILLS, `${landed} of ${kills} kills landed while work was pending`);
  // else no kill fell between a commit and its checkpoint, and the counters proved nothing
  t.true(doubted.size > 0, 'some transaction was committed but not checkpointed when its process died');
});
