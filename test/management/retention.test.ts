// Retention (API.md, SkeinConfig.retention; garbageCollect): finished workflows go with every
// row that belongs to them, PENDING and ENQUEUED ones and recently finished ones stay. Each
// test has a schema of its own: a deletion sweeps a whole schema, and tests run concurrently.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Client, ConfigError, type Skein } from '../../runtime/index.ts';
import { RETENTION_BATCH, RetentionSweeper } from '../../runtime/retention.ts';
import { createPool } from '../../storage/database.ts';
import { silentLogger, type Logger } from '../../common/logger.ts';
import * as wf from '../fixtures/retention.ts';
import { launch, sql, testDatabase, waitFor, within } from '../support/helpers.ts';

const workflows = new URL('../fixtures/retention.ts', import.meta.url);
const HOUR = 3_600_000;

async function launchOwn(t: ExecutionContext, queues: string[] = []): Promise<{ skein: Skein; schema: string }> {
  const schema = `ret_${randomBytes(5).toString('hex')}`;
  const skein = await launch(t, { workflows, schema, queues: queues.map((name) => ({ name })) });
  return { skein, schema };
}

async function connect(t: ExecutionContext, schema: string): Promise<Client> {
  const client = await Client.connect({ databaseUrl: await testDatabase(), schema });
  t.teardown(() => client.close());
  return client;
}

/** Runs a workflow to its end (ERROR too), then leaves a message and an idempotency key for it. */
async function finished(skein: Skein, fail = false): Promise<string> {
  const h = await skein.start(wf.leavesRows, { fail });
  await h.result().catch(() => undefined);
  await mailTo(skein, h.id);
  return h.id;
}

async function mailTo(skein: Skein | Client, id: string): Promise<void> {
  await skein.send(id, 'late', 'late');
  await skein.send(id, 'keyed', 'late', { idempotencyKey: `k-${id}` });
}

const TABLES = [
  ['workflow_status', 'id'],
  ['steps', 'workflow_id'],
  ['messages', 'destination_id'],
  ['message_keys', 'destination_id'],
  ['events', 'workflow_id'],
] as const;

/** Rows per table, by workflow ID: `{ workflow_status: { id: n }, steps: { ... }, ... }`. */
async function rowsByWorkflow(schema: string): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [table, column] of TABLES) {
    const rows = await sql<{ id: string; n: number }>(`SELECT ${column} AS id, count(*)::int AS n FROM ${schema}.${table} GROUP BY 1`);
    out[table] = Object.fromEntries(rows.map((r) => [r.id, r.n]));
  }
  return out;
}

/** `before` with the rows of `gone` removed from every table. */
function without(before: Record<string, Record<string, number>>, gone: string[]): Record<string, Record<string, number>> {
  return Object.fromEntries(
    Object.entries(before).map(([table, byId]) => [table, Object.fromEntries(Object.entries(byId).filter(([id]) => !gone.includes(id)))]),
  );
}

async function finishedAgo(schema: string, ids: string[], ms: number): Promise<void> {
  await sql(`UPDATE ${schema}.workflow_status SET completed_at = now() - $2::bigint * interval '1 millisecond' WHERE id = ANY($1)`, [ids, ms]);
}

test('completedAfterMs deletes exactly the workflows finished before it, with their steps, messages, keys and events', async (t) => {
  const { skein, schema } = await launchOwn(t);
  const client = await connect(t, schema);
  const old = [await finished(skein), await finished(skein), await finished(skein, true), await finished(skein), await finished(skein)];
  // the two other finished states, made by hand: their rows are alike
  await sql(`UPDATE ${schema}.workflow_status SET status = 'CANCELLED' WHERE id = $1`, [old[3]]);
  await sql(`UPDATE ${schema}.workflow_status SET status = 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' WHERE id = $1`, [old[4]]);
  await finishedAgo(schema, old, 2 * HOUR);
  const recent = [await finished(skein), await finished(skein, true)];
  const pending = await skein.start(wf.staysPending, null);
  await waitFor(async () => (await skein.getEvent(pending.id, 'waiting', { timeoutMs: 0 })) === true, 30_000, 'the PENDING one waiting');
  const enqueued = await client.enqueue({ workflow: wf.leavesRows.name, queue: 'nobody-serves-this' }, {});
  await mailTo(skein, pending.id);
  await mailTo(skein, enqueued.id);
  // an old completed_at on unfinished rows must not matter: only the status decides
  await finishedAgo(schema, [pending.id, enqueued.id], 2 * HOUR);

  const before = await rowsByWorkflow(schema);
  for (const id of old) {
    for (const [table] of TABLES) t.true((before[table]![id] ?? 0) > 0, `${table} has rows of ${id} before`);
  }
  t.deepEqual(await skein.garbageCollect({ completedAfterMs: HOUR }), { deleted: old.length });
  t.deepEqual(await rowsByWorkflow(schema), without(before, old));
  t.is((await skein.getStatus(pending.id))?.status, 'PENDING');
  t.is((await enqueued.status())?.status, 'ENQUEUED');
  for (const id of recent) t.truthy(await skein.getStatus(id));
  t.deepEqual(await skein.garbageCollect({ completedAfterMs: HOUR }), { deleted: 0 }, 'a second pass finds nothing');
});

test('maxRows keeps exactly the newest N finished workflows, ties at one instant ordered by ID; with completedAfterMs, either deletes', async (t) => {
  const { skein, schema } = await launchOwn(t);
  const ids = [];
  for (let i = 0; i < 6; i++) ids.push(await finished(skein));
  const pending = await skein.start(wf.staysPending, null);
  // completed_at: ids[0] oldest, then ids[1], then ids[2..4] at one instant (rows of one
  // group-commit flush share it, so which of them is third newest is decided by ID), ids[5]
  // as it finished
  await finishedAgo(schema, [ids[0]!], 3 * HOUR);
  await finishedAgo(schema, [ids[1]!], 2 * HOUR);
  await finishedAgo(schema, ids.slice(2, 5), HOUR);
  const tied = ids.slice(2, 5).sort();
  const before = await rowsByWorkflow(schema);

  // kept: ids[5] and the two greatest IDs of the tie
  t.deepEqual(await skein.garbageCollect({ maxRows: 3 }), { deleted: 3 });
  const left = await sql<{ id: string }>(`SELECT id FROM ${schema}.workflow_status WHERE status = 'SUCCESS' ORDER BY id`);
  t.deepEqual(left.map((r) => r.id), [ids[5]!, tied[1]!, tied[2]!].sort());
  t.deepEqual(await rowsByWorkflow(schema), without(before, [ids[0]!, ids[1]!, tied[0]!]));
  t.deepEqual(await skein.garbageCollect({ maxRows: 3 }), { deleted: 0 });

  // under maxRows, but completedAfterMs still deletes the tied ones (an hour old)
  t.deepEqual(await skein.garbageCollect({ maxRows: 10, completedAfterMs: HOUR / 2 }), { deleted: 2 });
  t.deepEqual(await skein.garbageCollect({ maxRows: 0 }), { deleted: 1 }, 'maxRows 0 keeps none');
  t.is((await skein.getStatus(pending.id))?.status, 'PENDING');
});

/** Inserts `n` finished workflows `bulk-<i>`, each with 3 steps, an event, a message and a key. */
async function fillFinished(schema: string, n: number, status = 'SUCCESS', prefix = 'bulk'): Promise<void> {
  await sql(
    `INSERT INTO ${schema}.workflow_status (id, name, status, executor_id, app_version, completed_at)
     SELECT $3 || '-' || i, 'bulk', $2, 'filler', 'v', CASE WHEN $2 IN ('PENDING', 'ENQUEUED') THEN NULL
       ELSE now() - interval '1 hour' - i * interval '1 second' END
     FROM generate_series(1, $1) i`,
    [n, status, prefix],
  );
  await sql(
    `INSERT INTO ${schema}.steps (workflow_id, step_id, name) SELECT $2 || '-' || i, s, 'step'
     FROM generate_series(1, $1) i, generate_series(0, 2) s`,
    [n, prefix],
  );
  for (const table of ['events (workflow_id, key, value)', 'messages (destination_id, topic, message)']) {
    await sql(`INSERT INTO ${schema}.${table} SELECT $2 || '-' || i, 'k', '\\x00'::bytea FROM generate_series(1, $1) i`, [n, prefix]);
  }
  await sql(`INSERT INTO ${schema}.message_keys (destination_id, idempotency_key) SELECT $2 || '-' || i, 'k' FROM generate_series(1, $1) i`, [n, prefix]);
}

test('more rows than several batches: maxRows, then completedAfterMs, delete them all and only them', async (t) => {
  const { skein, schema } = await launchOwn(t);
  const n = 2_500;
  t.true(n > 4 * RETENTION_BATCH, 'spans several batches');
  await fillFinished(schema, n);
  await fillFinished(schema, 10, 'PENDING', 'live');
  await fillFinished(schema, 10, 'ENQUEUED', 'queued');
  // bulk-1 is the newest (completed_at falls with i): maxRows keeps bulk-1..bulk-1200
  t.deepEqual(await skein.garbageCollect({ maxRows: 1_200 }), { deleted: n - 1_200 });
  const kept = await sql<{ n: number; last: number }>(
    `SELECT count(*)::int AS n, max(split_part(id, '-', 2)::int) AS last FROM ${schema}.workflow_status WHERE id LIKE 'bulk-%'`,
  );
  t.deepEqual(kept[0], { n: 1_200, last: 1_200 });
  t.deepEqual(await skein.garbageCollect({ completedAfterMs: 60_000 }), { deleted: 1_200 });
  const rows = await rowsByWorkflow(schema);
  for (const [table] of TABLES) {
    const ids = Object.keys(rows[table]!);
    t.false(ids.some((id) => id.startsWith('bulk-')), `no bulk rows left in ${table}`);
    t.is(ids.filter((id) => id.startsWith('live-') || id.startsWith('queued-')).length, 20, `PENDING and ENQUEUED rows kept in ${table}`);
  }
});

test('a finished row another transaction holds is skipped, not waited on, and goes on a later pass', async (t) => {
  const { skein, schema } = await launchOwn(t);
  const [held, free] = [await finished(skein), await finished(skein)];
  await finishedAgo(schema, [held, free], 2 * HOUR);
  const holder = new pg.Client({ connectionString: await testDatabase() });
  await holder.connect();
  t.teardown(() => holder.end());
  await holder.query('BEGIN');
  await holder.query(`SELECT 1 FROM ${schema}.workflow_status WHERE id = $1 FOR UPDATE`, [held]);
  t.deepEqual(await within(skein.garbageCollect({ completedAfterMs: HOUR }), 10_000, 'garbageCollect past a held row'), { deleted: 1 });
  t.is(await skein.getStatus(free), null);
  t.truthy(await skein.getStatus(held));
  await holder.query('ROLLBACK');
  t.deepEqual(await skein.garbageCollect({ completedAfterMs: HOUR }), { deleted: 1 });
  t.is(await skein.getStatus(held), null);
});

test('a Client can garbageCollect; with no options nothing is deleted', async (t) => {
  const { skein, schema } = await launchOwn(t);
  const old = await finished(skein);
  await finishedAgo(schema, [old], 2 * HOUR);
  const client = await connect(t, schema);
  t.deepEqual(await client.garbageCollect(), { deleted: 0 });
  t.deepEqual(await client.garbageCollect({}), { deleted: 0 });
  t.deepEqual(await skein.garbageCollect(), { deleted: 0 }, 'a Skein without config.retention');
  t.truthy(await client.getStatus(old));
  t.deepEqual(await client.garbageCollect({ completedAfterMs: HOUR }), { deleted: 1 });
  t.is(await client.getStatus(old), null);
});

test('bad garbageCollect options are ConfigErrors naming the option', async (t) => {
  const { skein, schema } = await launchOwn(t);
  const client = await connect(t, schema);
  const bad = (opts: unknown) => opts as { maxRows?: number };
  for (const api of [skein, client]) {
    await t.throwsAsync(api.garbageCollect({ maxRows: -1 }), { instanceOf: ConfigError, message: /maxRows/ });
    await t.throwsAsync(api.garbageCollect({ completedAfterMs: 1.5 }), { instanceOf: ConfigError, message: /completedAfterMs/ });
    await t.throwsAsync(api.garbageCollect(bad({ olderThan: 1 })), { instanceOf: ConfigError, message: /olderThan/ });
    await t.throwsAsync(api.garbageCollect(bad({ maxRows: '5' })), { instanceOf: ConfigError, message: /maxRows/ });
  }
});

test('a completedAfterMs beyond any date deletes nothing instead of failing', async (t) => {
  const { skein } = await launchOwn(t);
  await finished(skein);
  t.deepEqual(await skein.garbageCollect({ completedAfterMs: Number.MAX_SAFE_INTEGER }), { deleted: 0 });
});

function sweeperOn(t: ExecutionContext, url: string, schema: string, retention: { completedAfterMs?: number; maxRows?: number }, logger: Logger = silentLogger) {
  const pool = createPool(url, 2, () => {});
  const sweeper = new RetentionSweeper({ pool, schema, retention, logger });
  t.teardown(async () => {
    await sweeper.stop();
    await pool.end();
  });
  return sweeper;
}

test('the sweeper deletes at start and then periodically, and not after stop()', async (t) => {
  const { skein, schema } = await launchOwn(t);
  const url = await testDatabase();
  const old = await finished(skein);
  await finishedAgo(schema, [old], 2 * HOUR);
  const pending = await skein.start(wf.staysPending, null);
  const sweeper = sweeperOn(t, url, schema, { completedAfterMs: 1_000 });
  sweeper.start();
  const gone = async (id: string) => (await skein.getStatus(id)) === null;
  await waitFor(() => gone(old), 10_000, 'the old workflow deleted by the first sweep');
  // finished now: a later sweep (every second) deletes it once it is a second old
  const fresh = await finished(skein);
  await waitFor(() => gone(fresh), 10_000, 'the fresh workflow deleted by a later sweep');
  await sweeper.stop();
  const after = await finished(skein);
  await finishedAgo(schema, [after], 2 * HOUR);
  await new Promise((r) => setTimeout(r, 2_500));
  t.truthy(await skein.getStatus(after), 'no sweep after stop()');
  t.is((await skein.getStatus(pending.id))?.status, 'PENDING');
});

test('stop() during a long sweep ends it at its next batch and waits for that batch', async (t) => {
  const { schema } = await launchOwn(t);
  const n = 20_000;
  await fillFinished(schema, n);
  const sweeper = sweeperOn(t, await testDatabase(), schema, { completedAfterMs: 60_000 });
  const left = async () => (await sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.workflow_status`))[0]!.n;
  sweeper.start();
  await waitFor(async () => (await left()) < n, 30_000, 'the sweep under way');
  await sweeper.stop();
  const atStop = await left();
  await new Promise((r) => setTimeout(r, 500));
  t.is(await left(), atStop, 'nothing deleted after stop() resolved');
  t.true(atStop > 0, `stopped before the end (${atStop} left)`);
});

test('a failing sweep is logged through the logger, and sweeping goes on', async (t) => {
  const url = await testDatabase();
  const warnings: string[] = [];
  const logger: Logger = { ...silentLogger, warn: (message, fields) => void warnings.push(`${message} ${JSON.stringify(fields)}`) };
  const sweeper = sweeperOn(t, url, 'no_such_schema', { completedAfterMs: 0 }, logger);
  sweeper.start();
  await waitFor(() => warnings.length >= 2, 10_000, 'two failed sweeps logged');
  t.regex(warnings[0]!, /retention sweep failed.*no_such_schema/);
});

test('a sweeper with neither key never queries, and stop() before start() is fine', async (t) => {
  const url = await testDatabase();
  let queried = false;
  const pool = createPool(url, 1, () => {});
  t.teardown(() => pool.end());
  pool.on('connect', () => (queried = true));
  const sweeper = new RetentionSweeper({ pool, schema: 'skein', retention: {}, logger: silentLogger });
  sweeper.start();
  await new Promise((r) => setTimeout(r, 100));
  await sweeper.stop();
  t.false(queried);
  const other = new RetentionSweeper({ pool, schema: 'skein', retention: { maxRows: 1 }, logger: silentLogger });
  await other.stop();
  other.start();
  t.false(queried, 'start() after stop() does nothing');
});
