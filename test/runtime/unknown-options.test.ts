// No option is silently ignored (issue 12): for every options object of the public API, a key
// nobody knows is a ConfigError naming it and listing the known ones, a documented key this
// version does not implement yet is refused by name, and nothing is written either way.
import test, { type ExecutionContext } from 'ava';
import { Client, ConfigError, Skein, workflow, type WorkflowHandle } from '../../runtime/index.ts';
import * as wf from '../fixtures/workflows.ts';
import { fakeMain } from '../support/fake-main.ts';
import { fixtures, launch, sql, unique } from '../support/helpers.ts';

const unknown = (key: string) => ({ instanceOf: ConfigError, message: new RegExp(`unknown option .*\\b${key}; known: `) });
const later = (key: string) => ({ instanceOf: ConfigError, message: new RegExp(`${key} is not supported yet`) });

/** Options a caller passes as a variable: TypeScript checks literals only, so these reach the checks. */
function loose<T>(value: Record<string, unknown>): T {
  return value as T;
}

test('SkeinConfig, its queues, rate limits and resource limits: unknown keys are ConfigErrors, before any database is touched', async (t) => {
  const base = { workflows: fixtures, databaseUrl: 'postgres://nobody@127.0.0.1:1/none' };
  await t.throwsAsync(Skein.launch(loose({ ...base, logLevel: 'debug' })), unknown('config\\.logLevel'));
  const err = await t.throwsAsync(Skein.launch(loose({ ...base, thread: 2 })), unknown('config\\.thread'));
  t.regex(err!.message, /known: workflows, databaseUrl, .*threads/);
  await t.throwsAsync(
    Skein.launch(loose({ ...base, queues: [{ name: 'q', partitionConcurrency: 0 }] })),
    { instanceOf: ConfigError, message: /config\.queues\[0\]\.partitionConcurrency must be an integer from 1/ },
  );
  await t.throwsAsync(Skein.launch(loose({ ...base, queues: [{ name: 'q', concurency: 2 }] })), unknown('config\\.queues\\[0\\]\\.concurency'));
  await t.throwsAsync(
    Skein.launch(loose({ ...base, queues: [{ name: 'q', rateLimit: { limit: 1, periodMs: 10, burst: 3 } }] })),
    unknown('config\\.queues\\[0\\]\\.rateLimit\\.burst'),
  );
  await t.throwsAsync(Skein.launch(loose({ ...base, resourceLimits: { maxOldGenerationSizeMB: 64 } })), unknown('config\\.resourceLimits\\.maxOldGenerationSizeMB'));
  // only a clock of skein/testing is one: anything else is named, not ignored
  await t.throwsAsync(Skein.launch(loose({ ...base, clock: {} })), { instanceOf: ConfigError, message: /config\.clock must be a clock from skein\/testing/ });
  await t.throwsAsync(Skein.launch(loose({ ...base, admin: { port: 0, prot: 1 } })), unknown('config\\.admin\\.prot'));
  await t.throwsAsync(Skein.launch(loose({ ...base, admin: {} })), { message: /config\.admin\.port is required/ });
  await t.throwsAsync(Skein.launch(loose({ ...base, takeover: { lease: 5000 } })), unknown('config\\.takeover\\.lease'));
  await t.throwsAsync(Skein.launch(loose({ ...base, takeover: { leaseMs: 10 } })), { message: /config\.takeover\.leaseMs must be an integer from 2000/ });
  await t.throwsAsync(Skein.launch(loose({ ...base, takeover: 'yes' })), { message: /config\.takeover must be true, false or \{ leaseMs \}, got "yes"/ });
  await t.throwsAsync(Skein.launch(loose({ ...base, datasources: { app: { url: 'postgres://x/y', poolsize: 2 } } })), unknown('config\\.datasources\\.app\\.poolsize'));
  // a bad value is named as such, not as unknown
  await t.throwsAsync(Skein.launch(loose({ ...base, recover: 'yes' })), { instanceOf: ConfigError, message: /config\.recover must be true or false/ });
  await t.throwsAsync(Skein.launch(loose({ ...base, retention: { olderThanMs: 5 } })), unknown('config\\.retention\\.olderThanMs'));
  await t.throwsAsync(Skein.launch(loose({ ...base, stepKillGraceMs: -1 })), { instanceOf: ConfigError, message: /config\.stepKillGraceMs must be an integer from 0/ });
});

test('ClientConfig: an unknown key is a ConfigError before connecting', async (t) => {
  await t.throwsAsync(Client.connect(loose({ databaseUrl: 'postgres://nobody@127.0.0.1:1/none', pool: 3 })), unknown('config\\.pool'));
});

test('workflow() options: an unknown key is a ConfigError at definition', (t) => {
  t.throws(() => workflow('w', async () => 1, loose({ maxAttempts: 3 })), unknown("workflow 'w' options\\.maxAttempts"));
  t.throws(() => workflow('w', async () => 1, loose({ maxRecoveryAttempts: 0 })), { instanceOf: ConfigError, message: /maxRecoveryAttempts must be an integer from 1/ });
});

test('StartOptions, ListFilter, send, getEvent, result and shutdown options: unknown keys are ConfigErrors and write nothing', async (t) => {
  const skein = await launch(t);
  const id = unique();
  await t.throwsAsync(skein.start(wf.echo, 1, loose({ id, timeout: 5 })), unknown('options\\.timeout'));
  await t.throwsAsync(skein.run(wf.echo, 1, loose({ id, prio: 1 })), unknown('options\\.prio'));
  // the time options: each bad value named, and a combination that cannot hold refused
  const refused = (message: RegExp) => ({ instanceOf: ConfigError, message });
  await t.throwsAsync(skein.start(wf.echo, 1, loose({ id, delayMs: -1 })), refused(/options\.delayMs must be an integer from 0/));
  await t.throwsAsync(skein.start(wf.echo, 1, loose({ id, startAt: 'tomorrow' })), refused(/options\.startAt must be a valid Date/));
  await t.throwsAsync(skein.start(wf.echo, 1, { id, delayMs: 5, startAt: new Date() }), refused(/give delayMs or startAt, not both/));
  await t.throwsAsync(skein.start(wf.echo, 1, { id, partitionKey: 'p' }), refused(/options\.partitionKey needs options\.queue/));
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [id]), [], 'a refused start wrote its row');

  await t.throwsAsync(skein.listWorkflows(loose({ statuses: ['SUCCESS'] })), unknown('filter\\.statuses'));
  await t.throwsAsync(skein.listWorkflows(loose({ schedule: 's' })), unknown('filter\\.schedule'));
  await t.throwsAsync(skein.send('someone', 'hi', undefined, loose({ idempotency: 'k' })), unknown('send options\\.idempotency'));
  t.deepEqual(await sql("SELECT 1 FROM skein.messages WHERE destination_id = 'someone'"), [], 'a refused send wrote its message');
  await t.throwsAsync(skein.getEvent('someone', 'k', loose({ timeout: 5 })), unknown('getEvent options\\.timeout'));
  const handle: WorkflowHandle<unknown> = await skein.start(wf.echo, 'x');
  await t.throwsAsync(handle.result(loose({ timeout: 5 })), unknown('result options\\.timeout'));
  t.is(await handle.result({ timeoutMs: 30_000 }), 'x');
  await t.throwsAsync(skein.shutdown(loose({ force: true })), unknown('shutdown options\\.force'));
});

test('EnqueueOptions: an unknown key is a ConfigError and enqueues nothing', async (t) => {
  const skein = await launch(t); // creates the schema a Client needs
  const client = await Client.connect({ databaseUrl: skein.databaseUrl });
  t.teardown(() => client.close());
  const id = unique();
  await t.throwsAsync(client.enqueue(loose({ workflow: 'echo', queue: 'q', id, priorty: 2 }), 1), unknown('options\\.priorty'));
  await t.throwsAsync(client.enqueue(loose({ workflow: 'echo', id }), 1), { instanceOf: ConfigError, message: /options\.queue is required/ });
  t.deepEqual(await sql('SELECT id FROM skein.workflow_status WHERE id = $1', [id]), []);
});

/** In a workflow: the context checks its options on the worker thread, before any step id is taken. */
function context(t: ExecutionContext) {
  const fake = fakeMain();
  t.teardown(() => fake.close());
  return fake;
}

test('StepOptions, recv, getEvent and startWorkflow options inside a workflow: unknown keys are ConfigErrors, nothing is sent', async (t) => {
  const { ctx, requests } = context(t);
  await t.throwsAsync(ctx.step('s', () => 1, loose({ shouldRetry: () => true })), unknown("ctx\\.step\\('s'\\) options\\.shouldRetry"));
  await t.throwsAsync(ctx.step('s', () => 1, loose({ timeout: 100 })), unknown("ctx\\.step\\('s'\\) options\\.timeout"));
  await t.throwsAsync(ctx.recv('topic', loose({ timeout: 5 })), unknown('ctx\\.recv options\\.timeout'));
  await t.throwsAsync(ctx.getEvent('other', 'k', loose({ timeout: 5 })), unknown('ctx\\.getEvent options\\.timeout'));
  await t.throwsAsync(ctx.startWorkflow(wf.echo, 1, loose({ queueName: 'q' })), unknown('ctx\\.startWorkflow options\\.queueName'));
  await t.throwsAsync(ctx.startWorkflow(wf.echo, 1, loose({ delayMs: -5 })), { instanceOf: ConfigError, message: /ctx\.startWorkflow options\.delayMs must be an integer from 0/ });
  await t.throwsAsync(ctx.startWorkflow(wf.echo, 1, loose({ appVersion: 'v2' })), later('ctx\\.startWorkflow options\\.appVersion'));
  t.deepEqual(requests, [], 'a refused call reached main');
  // and the ids were not consumed: the next step is step 0
  t.is(await ctx.step('first', () => 'ok'), 'ok');
  t.is(requests[0]?.type === 'checkpoint' ? requests[0].stepId : -1, 0);
});
