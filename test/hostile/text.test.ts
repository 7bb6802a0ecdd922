// Issue 10, point 4: text Postgres cannot store (a NUL, a lone surrogate) is a ConfigError
// naming the argument before anything is written, outside workflows and inside them.
import test, { type ExecutionContext } from 'ava';
import { Client, ConfigError, Skein, workflow } from '../../runtime/index.ts';
import { badText, echo, hostileCall, type BadKind, type CtxCall } from '../fixtures/hostile-input.ts';
import { sql, testDatabase, unique } from '../support/helpers.ts';

const workflows = new URL('../fixtures/hostile-input.ts', import.meta.url);
const KINDS: BadKind[] = ['nul', 'surrogate'];

// One Skein and one Client for the whole file: every test works under IDs of its own.
let shared: Promise<{ skein: Skein; client: Client }> | undefined;
function parts(): Promise<{ skein: Skein; client: Client }> {
  shared ??= (async () => {
    const databaseUrl = await testDatabase();
    const skein = await Skein.launch({ workflows, databaseUrl, threads: 2, executorId: unique('executor'), queues: [{ name: 'q' }] });
    return { skein, client: await Client.connect({ databaseUrl }) };
  })();
  return shared;
}
test.after.always(async () => {
  if (!shared) return;
  const { skein, client } = await shared;
  await client.close();
  await skein.shutdown({ timeoutMs: 2000 });
});

const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

/** `call` is refused with a ConfigError that names `what` and does not echo the bad text raw. */
async function refused(t: ExecutionContext, what: string, call: () => unknown): Promise<void> {
  const err = await t.throwsAsync(async () => call(), { instanceOf: ConfigError }, what);
  if (!err) return;
  t.true(err.message.includes(what), `${JSON.stringify(err.message)} names ${what}`);
  t.regex(err.message, /NUL|lone surrogate/, what);
  t.false(err.message.includes('\u0000'), `${what}: no raw NUL in the message`);
  t.true(wellFormed(err.message), `${what}: no raw lone surrogate in the message`);
}

/** Rows anywhere in the system tables that text starting with `tag` could have written. */
async function writtenUnder(tag: string): Promise<unknown[]> {
  const like = `${tag}%`;
  return sql(
    `SELECT 'workflow' AS t, id AS v FROM skein.workflow_status
       WHERE id LIKE $1 OR queue LIKE $1 OR dedup_id LIKE $1 OR user_name LIKE $1 OR app_version LIKE $1 OR name LIKE $1
     UNION ALL SELECT 'message', destination_id FROM skein.messages WHERE destination_id LIKE $1 OR topic LIKE $1
     UNION ALL SELECT 'key', destination_id FROM skein.message_keys WHERE destination_id LIKE $1 OR idempotency_key LIKE $1
     UNION ALL SELECT 'event', workflow_id FROM skein.events WHERE workflow_id LIKE $1 OR key LIKE $1
     UNION ALL SELECT 'step', workflow_id FROM skein.steps WHERE workflow_id LIKE $1 OR child_workflow_id LIKE $1`,
    [like],
  );
}

for (const kind of KINDS) {
  test(`${kind}: Skein.start and run options are ConfigErrors naming the option, and write nothing`, async (t) => {
    const { skein } = await parts();
    const tag = unique('start');
    const bad = badText(tag, kind);
    await refused(t, 'options.id', () => skein.start(echo, 1, { id: bad }));
    await refused(t, 'options.id', () => skein.run(echo, 1, { id: bad }));
    await refused(t, 'options.queue', () => skein.start(echo, 1, { id: `${tag}-q`, queue: bad }));
    await refused(t, 'options.dedupId', () => skein.start(echo, 1, { id: `${tag}-d`, queue: 'q', dedupId: bad }));
    await refused(t, 'options.user', () => skein.start(echo, 1, { id: `${tag}-u`, user: bad }));
    await refused(t, 'options.appVersion', () => skein.start(echo, 1, { id: `${tag}-v`, appVersion: bad }));
    await refused(t, 'workflow name', () => skein.start(bad as unknown as typeof echo, 1, { id: `${tag}-n` }));
    t.deepEqual(await writtenUnder(tag), []);
  });

  test(`${kind}: Skein.send, getEvent, retrieve and handle reads are ConfigErrors, and send writes nothing`, async (t) => {
    const { skein } = await parts();
    const tag = unique('send');
    const bad = badText(tag, kind);
    await refused(t, 'send destinationId', () => skein.send(bad, 'm'));
    await refused(t, 'send topic', () => skein.send(`${tag}-dest`, 'm', bad));
    await refused(t, 'send options.idempotencyKey', () => skein.send(`${tag}-dest`, 'm', 't', { idempotencyKey: bad }));
    await refused(t, 'getEvent workflowId', () => skein.getEvent(bad, 'k', { timeoutMs: 10 }));
    await refused(t, 'getEvent key', () => skein.getEvent(`${tag}-wf`, bad, { timeoutMs: 10 }));
    await refused(t, 'retrieve id', () => skein.retrieve(bad));
    await refused(t, 'getStatus id', () => skein.getStatus(bad));
    await refused(t, 'awaitResult id', () => skein.awaitResult(bad));
    t.deepEqual(await writtenUnder(tag), []);
  });

  test(`${kind}: listWorkflows filters, getWorkflowSteps, killThread and recoverPendingWorkflows are ConfigErrors`, async (t) => {
    const { skein } = await parts();
    const bad = badText(unique('read'), kind);
    await refused(t, 'filter.ids', () => skein.listWorkflows({ ids: ['fine', bad] }));
    for (const key of ['idPrefix', 'name', 'queue', 'user', 'appVersion', 'executorId'] as const) {
      await refused(t, `filter.${key}`, () => skein.listWorkflows({ [key]: bad }));
    }
    await refused(t, 'getWorkflowSteps id', () => skein.getWorkflowSteps(bad));
    await refused(t, 'killThread workflowId', () => skein.killThread(bad));
    await refused(t, 'recoverPendingWorkflows executorIds', () => skein.recoverPendingWorkflows([bad]));
  });

  test(`${kind}: every Client call is a ConfigError naming the argument, and writes nothing`, async (t) => {
    const { client } = await parts();
    const tag = unique('client');
    const bad = badText(tag, kind);
    await refused(t, 'options.workflow', () => client.enqueue({ workflow: bad, queue: 'q', id: `${tag}-w` }, 1));
    await refused(t, 'options.id', () => client.enqueue({ workflow: 'hostile.echo', queue: 'q', id: bad }, 1));
    await refused(t, 'options.queue', () => client.enqueue({ workflow: 'hostile.echo', queue: bad, id: `${tag}-q` }, 1));
    await refused(t, 'send destinationId', () => client.send(bad, 'm'));
    await refused(t, 'send topic', () => client.send(`${tag}-dest`, 'm', bad));
    await refused(t, 'getEvent key', () => client.getEvent(`${tag}-wf`, bad, { timeoutMs: 10 }));
    await refused(t, 'retrieve id', () => client.retrieve(bad));
    await refused(t, 'filter.idPrefix', () => client.listWorkflows({ idPrefix: bad }));
    await refused(t, 'getWorkflowSteps id', () => client.getWorkflowSteps(bad));
    t.deepEqual(await writtenUnder(tag), []);
  });

  test(`${kind}: workflow names and launch configuration (queue names, executorId, appVersion) are ConfigErrors`, async (t) => {
    const bad = badText(unique('config'), kind);
    await refused(t, 'workflow name', () => workflow(bad, async () => 1));
    const databaseUrl = await testDatabase();
    await refused(t, 'config.queues[0].name', () => Skein.launch({ workflows, databaseUrl, queues: [{ name: bad }] }));
    await refused(t, 'config.executorId', () => Skein.launch({ workflows, databaseUrl, executorId: bad }));
    await refused(t, 'config.appVersion', () => Skein.launch({ workflows, databaseUrl, appVersion: bad }));
  });
}

const CTX_CALLS: CtxCall[] = [
  'send destinationId',
  'send topic',
  'recv topic',
  'setEvent key',
  'getEvent workflowId',
  'getEvent key',
  'startWorkflow options.id',
  'step name',
];

for (const kind of KINDS) {
  for (const call of CTX_CALLS) {
    test(`${kind} in ctx.${call}: the workflow ends ERROR with a ConfigError after one attempt, writing nothing`, async (t) => {
      const { skein } = await parts();
      const tag = unique('ctx');
      const handle = await skein.start(hostileCall, { call, kind, tag }, { id: `${tag}-wf` });
      const err = await t.throwsAsync(handle.result(), { instanceOf: ConfigError });
      t.true(err!.message.includes(`ctx.${call}`), err!.message);
      const [row] = await sql('SELECT status, attempts FROM skein.workflow_status WHERE id = $1', [handle.id]);
      t.deepEqual(row, { status: 'ERROR', attempts: 1 });
      // the workflow's own row is the only thing under its tag: no step, message, event or child
      t.deepEqual(await writtenUnder(tag), [{ t: 'workflow', v: handle.id }]);
    });
  }
}
