// How fast the dashboard answers with N workflows in the table: N rows filled by SQL
// (bench/dashboard-fill.ts), served as `skein dashboard` serves them (a Client, a DashboardApi
// and an AdminServer on port 0), then real HTTP GETs of every read route, one at a time, and
// EXPLAIN (ANALYZE, BUFFERS) of the listing SQL behind each list variant (captured from
// storage/workflows.ts by a pool that records instead of running). Embedded Postgres at
// default durability. Results: bench/DASHBOARD.md.
// Run: npx tsx bench/dashboard.ts [N] [--plans]   (npm run bench:dashboard; default N 100000;
// --plans prints each plan whole)
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { silentLogger } from '../common/logger.ts';
import { AdminServer } from '../runtime/admin.ts';
import { Client } from '../runtime/client.ts';
import { DashboardApi } from '../runtime/dashboard/api.ts';
import { listFilter, listPlace } from '../runtime/dashboard/query.ts';
import type { WorkflowPage } from '../runtime/dashboard/contract.ts';
import { validateListFilter } from '../runtime/options.ts';
import { createPool, type Pool } from '../storage/database.ts';
import { migrate } from '../storage/migrate.ts';
import { listWorkflows } from '../storage/workflows.ts';
import { BIG_ID, BIG_STEPS, fill, idSql } from './dashboard-fill.ts';
import { withBenchPostgres } from './server.ts';
import { quantile } from './workloads.ts';

const args = process.argv.slice(2);
const PLANS = args.includes('--plans');
const N = Number(args.find((a) => !a.startsWith('--')) ?? 100_000);
if (!Number.isSafeInteger(N) || N < 1000) throw new Error(`usage: tsx bench/dashboard.ts [N >= 1000] [--plans], got ${args.join(' ')}`);
const SAMPLES = 20;
const WARMUP = 2;
/** A deep page of status=ERROR (about 5% of the rows): 4000 at N = 100,000. */
const ERROR_OFFSET = Math.floor(N * 0.04);
console.log(
  `dashboard: ${N} workflows filled by SQL (bench/dashboard-fill.ts) plus one of ${BIG_STEPS} steps, served as ` +
    `\`skein dashboard\` does; each route GET ${WARMUP} times unmeasured, then ${SAMPLES} times one after another ` +
    `(median, p95 in ms); ${availableParallelism()} cores, Node ${process.version}, default durability`,
);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();

/** Places deep in the list, as the API gives them out: for the pages by cursor. */
interface Deep {
  /** the first row of the page at offset N - 100 */
  all: string;
  /** the first row of the status=ERROR page at offset ERROR_OFFSET */
  error: string;
}

/** The list variants: label and query string of GET /api/workflows. */
function lists(deep: Deep): [string, string][] {
  const hour = `since=${at(3.5 * DAY)}&until=${at(3.5 * DAY - HOUR)}`;
  const lastDay = `since=${at(DAY)}`;
  return [
    ['default page', ''],
    ['status=ERROR (5%)', 'status=ERROR'],
    ['status=CANCELLED (1%)', 'status=CANCELLED'],
    ['status=PENDING,ENQUEUED', 'status=PENDING,ENQUEUED'],
    ['name=checkout (30%)', 'name=checkout'],
    ['name=refund (1%)', 'name=refund'],
    ['queue=billing (7%)', 'queue=billing'],
    ['queue=reports (0.8%)', 'queue=reports'],
    ['idPrefix=ab (1/256)', 'idPrefix=ab'],
    ['idPrefix=abc (1/4096)', 'idPrefix=abc'],
    ['since..until (1 hour)', hour],
    ['since (last day)', lastDay],
    ['status=ERROR&name=checkout', 'status=ERROR&name=checkout'],
    ['status=ERROR&queue=billing&last day', `status=ERROR&queue=billing&${lastDay}`],
    ['status=CANCELLED&name=refund', 'status=CANCELLED&name=refund'],
    ['status=ERROR&name=refund&queue=reports', 'status=ERROR&name=refund&queue=reports'],
    ['deep page (offset N-100)', `offset=${N - 100}`],
    [`status=ERROR, deep page (offset ${ERROR_OFFSET})`, `status=ERROR&offset=${ERROR_OFFSET}`],
    ['deep page by cursor (after= the row at N-100)', `after=${encodeURIComponent(deep.all)}`],
    ['deep page by cursor (before= the row at N-100)', `before=${encodeURIComponent(deep.all)}`],
    [`status=ERROR, deep page by cursor (after= the row at ${ERROR_OFFSET})`, `status=ERROR&after=${encodeURIComponent(deep.error)}`],
  ];
}

interface Timed {
  median: number;
  p95: number;
  status: number;
  bytes: number;
}

async function timed(base: string, path: string): Promise<Timed> {
  const ms: number[] = [];
  let status = 0;
  let bytes = 0;
  for (let i = 0; i < WARMUP + SAMPLES; i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}${path}`);
    const body = await res.arrayBuffer();
    if (i >= WARMUP) ms.push(performance.now() - t0);
    status = res.status;
    bytes = body.byteLength;
  }
  if (status !== 200) throw new Error(`GET ${path} answered ${status}`);
  return { median: quantile(ms, 0.5), p95: quantile(ms, 0.95), status, bytes };
}

/**
 * The SQL and values listWorkflows sends for this list query, its filter and place built as
 * runtime/dashboard/api.ts builds them (a `before` page: the first of its reads).
 */
async function listSql(query: string): Promise<{ text: string; values: unknown[] }> {
  let sent: { text: string; values: unknown[] } | undefined;
  const recorder = { query: async (text: string, values: unknown[]) => ((sent = { text, values }), { rows: [] }) };
  const q = new URLSearchParams(query);
  const { limit, ...filter } = listFilter(q);
  const { after, before } = listPlace(q);
  const keyset = { after: before ?? after };
  await listWorkflows(recorder as unknown as Pool, 'skein', { ...validateListFilter(filter), desc: !before, limit: limit + 1, keyset });
  return sent!;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  Plans?: PlanNode[];
}

/** The scans and sorts of a plan, outermost first: 'Limit > Incremental Sort > Index Scan Backward (workflow_status_created)'. */
function shape(node: PlanNode): string {
  const own = `${node['Node Type']}${node['Scan Direction'] === 'Backward' ? ' Backward' : ''}${node['Index Name'] ? ` (${node['Index Name']})` : ''}`;
  const kids = (node.Plans ?? []).map(shape);
  return kids.length === 0 ? own : kids.length === 1 ? `${own} > ${kids[0]}` : `${own} > [${kids.join(', ')}]`;
}

async function deepPlaces(base: string): Promise<Deep> {
  const prev = async (query: string) => ((await (await fetch(`${base}/api/workflows?${query}`)).json()) as WorkflowPage).prev!;
  return { all: await prev(`offset=${N - 100}`), error: await prev(`status=ERROR&offset=${ERROR_OFFSET}`) };
}

async function explain(db: pg.Client, query: string): Promise<string> {
  const { text, values } = await listSql(query);
  const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`, values);
  const [plan] = rows[0]['QUERY PLAN'] as [{ Plan: PlanNode & Record<string, number>; 'Execution Time': number }];
  if (PLANS) {
    const textPlan = await db.query(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values);
    console.log(textPlan.rows.map((r) => `      ${r['QUERY PLAN']}`).join('\n'));
  }
  const buffers = plan.Plan['Shared Hit Blocks']! + plan.Plan['Shared Read Blocks']!;
  return `${plan['Execution Time'].toFixed(1)} ms, ${buffers} buffers: ${shape(plan.Plan)}`;
}

await withBenchPostgres(async (server) => {
  const setup = createPool(server.url, 1, () => {});
  await migrate(setup, 'skein');
  await setup.end();
  const db = new pg.Client({ connectionString: server.url });
  await db.connect();
  let t0 = performance.now();
  await fill(db, N);
  const { rows: sizes } = await db.query(
    `SELECT pg_size_pretty(pg_total_relation_size('skein.workflow_status')) AS workflows,
       pg_size_pretty(pg_indexes_size('skein.workflow_status')) AS indexes, (SELECT count(*)::int FROM skein.steps) AS steps`,
  );
  const { rows: mix } = await db.query(`SELECT status, count(*)::int AS n FROM skein.workflow_status GROUP BY 1 ORDER BY 2 DESC`);
  console.log(`  statuses: ${mix.map((r) => `${r.status} ${r.n}`).join(', ')}`);
  console.log(`  filled in ${((performance.now() - t0) / 1000).toFixed(1)} s: workflow_status ${sizes[0].workflows} (indexes ${sizes[0].indexes}), ${sizes[0].steps} steps`);

  const client = await Client.connect({ databaseUrl: server.url, schema: 'skein', logger: silentLogger });
  const pool = createPool(server.url, 2, () => {});
  const admin = await AdminServer.start({ port: 0 }, { api: new DashboardApi({ api: client, pool, schema: 'skein' }) }, silentLogger);
  try {
    // a parent of three children, with three steps (row 100 of the fill)
    const { rows: ids } = await db.query(`SELECT ${idSql('$1::int')} AS id`, [100]);
    const parent = encodeURIComponent(ids[0].id as string);
    const big = encodeURIComponent(BIG_ID);
    const deep = await deepPlaces(admin.url);
    const routes: [string, string][] = [
      ...lists(deep).map(([label, query]): [string, string] => [`list: ${label}`, `/api/workflows${query ? `?${query}` : ''}`]),
      ['workflow detail', `/api/workflows/${parent}`],
      ['steps, first page (1000 of 5000)', `/api/workflows/${big}/steps`],
      ['steps, from=4000', `/api/workflows/${big}/steps?from=4000`],
      ['steps of a 3-step workflow', `/api/workflows/${parent}/steps`],
      ['children', `/api/workflows/${parent}/children`],
      ['events', `/api/workflows/${parent}/events`],
      ['messages', `/api/workflows/${parent}/messages`],
      ['queues', '/api/queues'],
      ['schedules', '/api/schedules'],
      ['executors', '/api/executors'],
    ];
    console.log('\n| route | median ms | p95 ms | response bytes |\n|---|---:|---:|---:|');
    t0 = performance.now();
    for (const [label, path] of routes) {
      const r = await timed(admin.url, path);
      console.log(`| ${label} | ${r.median.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.bytes} |`);
    }
    console.log(`  (timed in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    console.log('\nEXPLAIN (ANALYZE, BUFFERS) of the listing SQL (storage/workflows.ts listWorkflows):');
    for (const [label, query] of lists(deep)) console.log(`  ${label}: ${await explain(db, query)}`);
  } finally {
    await admin.close();
    await pool.end();
    await client.close();
    await db.end();
  }
});
