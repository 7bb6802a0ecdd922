// metrics() and the admin server's /metrics: the counters agree with what the database holds,
// and the Prometheus text says the same as metrics().
import test from 'ava';
import { once } from 'node:events';
import { connect } from 'node:net';
import { counted } from '../fixtures/observed.ts';
import { launch, migrated, sql, unique } from '../support/helpers.ts';
import { Client, ConfigError, Skein } from '../../runtime/index.ts';

const workflows = new URL('../fixtures/observed.ts', import.meta.url);

/** The sample lines of the text format (`name{labels} value`), by name and labels. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]));
  }
  return out;
}

test('100 workflows: the counters agree with the database, and /metrics with metrics()', async (t) => {
  const queue = unique('q');
  const skein = await launch(t, { workflows, admin: { port: 0 }, queues: [{ name: queue, concurrency: 4 }] });
  // a mix: 1-3 steps, some retried once or twice, every fifth failing, a third through a queue
  const inputs = Array.from({ length: 100 }, (_, i) => ({ steps: 1 + (i % 3), retries: i % 4 === 0 ? 2 : i % 4 === 1 ? 1 : 0, fail: i % 5 === 0 }));
  const handles = await Promise.all(inputs.map((input, i) => skein.start(counted, input, i % 3 === 0 ? { queue } : {})));
  await Promise.all(handles.map((h) => h.result().catch(() => null)));

  const m = await skein.metrics();
  const ids = handles.map((h) => h.id);
  const [byStatus] = await sql<{ success: number; error: number; steps: number; failed_steps: number }>(
    `SELECT count(*) FILTER (WHERE status = 'SUCCESS')::int AS success, count(*) FILTER (WHERE status = 'ERROR')::int AS error,
            (SELECT count(*)::int FROM skein.steps WHERE workflow_id = ANY($1)) AS steps,
            (SELECT count(*)::int FROM skein.steps WHERE workflow_id = ANY($1) AND error IS NOT NULL) AS failed_steps
     FROM skein.workflow_status WHERE id = ANY($1)`,
    [ids],
  );
  t.is(m.workflowsStarted, 100);
  t.is(m.workflowsFinished.SUCCESS, byStatus!.success);
  t.is(m.workflowsFinished.ERROR, byStatus!.error);
  t.is(byStatus!.success + byStatus!.error, 100);
  t.is(m.steps, byStatus!.steps);
  t.is(m.stepErrors, byStatus!.failed_steps);
  t.is(m.retries, inputs.reduce((n, i) => n + i.retries, 0));
  t.is(m.threadDeaths, 0);
  t.deepEqual(m.workflows, { running: 0, parked: 0, ready: 0 });
  const batches = m.checkpointBatchSize;
  t.true(batches.count > 0 && batches.sum >= byStatus!.steps, 'every step was in some group commit');
  t.is(batches.buckets.at(-1)!.count <= batches.count, true);
  t.true(m.wakeUpLatencyMs.count >= m.retries, 'each retry back-off is a timer');

  // the same through HTTP, in the text format
  t.truthy(skein.adminUrl);
  const res = await fetch(`${skein.adminUrl}/metrics`);
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  t.regex(text, /# TYPE skein_workflows_finished_total counter/);
  const s = samples(text);
  t.is(s.get(`skein_info{executor="${skein.executorId}",app_version="${skein.appVersion}"}`), 1);
  t.is(s.get('skein_workflows_started_total'), 100);
  t.is(s.get('skein_workflows_finished_total{status="SUCCESS"}'), m.workflowsFinished.SUCCESS);
  t.is(s.get('skein_workflows_finished_total{status="ERROR"}'), m.workflowsFinished.ERROR);
  t.is(s.get('skein_steps_total'), m.steps);
  t.is(s.get('skein_step_retries_total'), m.retries);
  t.is(s.get(`skein_queue_enqueued{queue="${queue}"}`), undefined, 'a drained queue has no rows, so no series');
  t.is(s.get('skein_checkpoint_batch_size_count'), (await skein.metrics()).checkpointBatchSize.count);
  t.is(s.get('skein_checkpoint_batch_size_bucket{le="+Inf"}'), s.get('skein_checkpoint_batch_size_count'));
  t.is((await fetch(`${skein.adminUrl}/healthz`)).status, 200);
  t.is((await fetch(`${skein.adminUrl}/nothing`)).status, 404);

  // a fork is a new workflow this process wrote
  await (await skein.forkWorkflow(ids[1]!, { startStep: 0 })).result();
  t.is((await skein.metrics()).workflowsStarted, 101);
});

test('a request target that is no URL gets an answer, and the host process lives on', async (t) => {
  const skein = await launch(t, { workflows, admin: { port: 0 } });
  const { port } = new URL(skein.adminUrl!);
  for (const target of ['http://[', '//x:99999/metrics', '%zz']) {
    const socket = connect(Number(port), '127.0.0.1');
    socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    t.regex(chunk.toString(), /^HTTP\/1\.1 (404|400) /, target);
    socket.destroy();
  }
  t.is((await fetch(`${skein.adminUrl}/metrics`)).status, 200);
});

test('queue gauges count what waits and runs, across processes', async (t) => {
  const queue = unique('q');
  // enqueued by a Client onto a queue no process serves: the rows wait there
  const client = await Client.connect({ databaseUrl: await migrated() });
  t.teardown(() => client.close());
  const input = { steps: 1, retries: 0, fail: false };
  await Promise.all(Array.from({ length: 5 }, () => client.enqueue({ workflow: 'counted', queue }, input)));
  await client.enqueue({ workflow: 'counted', queue, delayMs: 3_600_000 }, input);
  const skein = await launch(t, { workflows, admin: { port: 0 } });
  const q = (await skein.metrics()).queues.find((x) => x.queue === queue);
  t.like(q, { queue, enqueued: 5, delayed: 1, running: 0 });
  const text = await (await fetch(`${skein.adminUrl}/metrics`)).text();
  t.is(samples(text).get(`skein_queue_enqueued{queue="${queue}"}`), 5);
  t.is(samples(text).get(`skein_queue_delayed{queue="${queue}"}`), 1);
});

test('the admin server: a token guards it, and any host but loopback needs one', async (t) => {
  const skein = await launch(t, { workflows, admin: { port: 0, token: 's3cret' } });
  t.is((await fetch(`${skein.adminUrl}/metrics`)).status, 401);
  t.is((await fetch(`${skein.adminUrl}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  t.is((await fetch(`${skein.adminUrl}/metrics`, { headers: { authorization: 'Bearer s3cret' } })).status, 200);
  t.is((await fetch(`${skein.adminUrl}/metrics`, { method: 'POST', headers: { authorization: 'Bearer s3cret' } })).status, 405);

  const refused = await t.throwsAsync(Skein.launch({ workflows, databaseUrl: process.env.SKEIN_TEST_DB!, admin: { port: 0, host: '0.0.0.0' } }), { instanceOf: ConfigError });
  t.regex(refused!.message, /config\.admin\.token is required to listen on "0\.0\.0\.0"/);
  await t.throwsAsync(Skein.launch({ workflows, databaseUrl: process.env.SKEIN_TEST_DB!, admin: { port: 70_000 } }), { instanceOf: ConfigError, message: /config\.admin\.port/ });
  await t.throwsAsync(Skein.launch({ workflows, databaseUrl: process.env.SKEIN_TEST_DB!, admin: { port: 0, tls: true } as never }), { instanceOf: ConfigError, message: /unknown option config\.admin\.tls/ });
  // a port in use: a ConfigError naming it, and the launch leaves nothing behind
  const port = Number(new URL(skein.adminUrl!).port);
  await t.throwsAsync(launch(t, { workflows, admin: { port } }), { instanceOf: ConfigError, message: new RegExp(`admin server: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`) });
});
