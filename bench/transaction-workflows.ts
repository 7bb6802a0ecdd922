// Workflows of the transaction benchmark (bench/transaction.ts), skein's side, and what both sides
// share: the app's tables, the transaction's body (the same Drizzle statements for both systems),
// the arguments of a system's process, its results, and the rows check after a pass.
// A workflow is one transaction: INSERT an order, UPDATE the workflow's own counter row (+1),
// returning the counter's new value (1, if the transaction ran exactly once).
import { sql, eq } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { workflow } from '../runtime/index.ts';

/** The app's tables, created in each pass's database before the system launches. */
export const orders = pgTable('bench_orders', { id: text('id').primaryKey(), total: integer('total').notNull() });
export const counters = pgTable('bench_counters', { id: integer('id').primaryKey(), n: integer('n').notNull() });

/** What a workflow gets: its order, and the counter row (one per workflow) it bumps. */
export interface OrderInput {
  id: string;
  total: number;
  counter: number;
}

/** What a workflow returns: the counter's new value, and the ms the transaction call took inside it. */
export interface OrderOutput {
  n: number;
  txMs: number;
}

/** The transaction's body, the same for both systems: two statements through Drizzle. */
export async function writeOrder(db: Pick<NodePgDatabase, 'insert' | 'update'>, input: OrderInput): Promise<number> {
  await db.insert(orders).values({ id: input.id, total: input.total });
  const [row] = await db
    .update(counters)
    .set({ n: sql`${counters.n} + 1` })
    .where(eq(counters.id, input.counter))
    .returning({ n: counters.n });
  if (!row) throw new Error(`no counter row ${input.counter}`);
  return row.n;
}

/** skein: one ctx.transaction on the default datasource ('app', the system database), at its defaults. */
export const placeOrder = workflow('placeOrder', async (ctx, input: OrderInput): Promise<OrderOutput> => {
  const t0 = performance.now();
  const n = await ctx.transaction('placeOrder', (tx) => writeOrder(drizzle({ client: tx }), input));
  return { n, txMs: performance.now() - t0 };
});

/** Creates the app's tables and `rows` counter rows (ids 0 .. rows-1, n 0). */
export async function createAppTables(client: pg.Client, rows: number): Promise<void> {
  await client.query('CREATE TABLE bench_orders (id text PRIMARY KEY, total integer NOT NULL)');
  await client.query('CREATE TABLE bench_counters (id integer PRIMARY KEY, n integer NOT NULL)');
  await client.query('INSERT INTO bench_counters (id, n) SELECT g, 0 FROM generate_series(0, $1::int - 1) g', [rows]);
}

/** After a pass: the app's rows and the system's transaction records, which must all match `workflows`. */
export interface RowCheck {
  workflows: number;
  orders: number;
  /** counter rows at exactly 1 */
  countersAtOne: number;
  /** counter rows above 1 (a transaction applied twice) */
  countersAboveOne: number;
  /** the system's records of committed transactions (skein.transaction_outputs, dbos.transaction_completion) */
  records: number;
  recordTable: string;
}

export async function checkRows(client: pg.Client, workflows: number, recordTable: string): Promise<RowCheck> {
  const o = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM bench_orders');
  const c = await client.query<{ one: number; above: number }>(
    'SELECT count(*) FILTER (WHERE n = 1)::int AS one, count(*) FILTER (WHERE n > 1)::int AS above FROM bench_counters',
  );
  const r = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${recordTable}`);
  const check: RowCheck = {
    workflows,
    orders: o.rows[0]!.n,
    countersAtOne: c.rows[0]!.one,
    countersAboveOne: c.rows[0]!.above,
    records: r.rows[0]!.n,
    recordTable,
  };
  if (check.orders !== workflows || check.countersAtOne !== workflows || check.countersAboveOne !== 0 || check.records !== workflows) {
    throw new Error(`rows do not match ${workflows} workflows, one transaction each: ${JSON.stringify(check)}`);
  }
  return check;
}

/** What a system's process sends the driver. */
export interface TransactionResults {
  type: 'results';
  /** start -> result of workflows run one at a time, ms (measured samples) */
  latency: number[];
  /** the same workflows: the transaction call, timed inside the workflow, ms */
  transaction: number[];
  /** workflows started at once: how many, and seconds from the first start to the last result */
  throughput: { workflows: number; seconds: number };
  /** the transaction call inside each of those workflows, ms */
  throughputTransaction: number[];
  check: RowCheck;
  notes: string[];
}

/** `<system>-transaction.ts <databaseUrl> <warmup> <samples> <burst>` */
export function transactionArgs(): { databaseUrl: string; warmup: number; samples: number; burst: number } {
  const [databaseUrl, warmup, samples, burst] = process.argv.slice(2);
  if (!databaseUrl || !(Number(warmup) >= 0) || !(Number(samples) > 0) || !(Number(burst) > 0)) {
    console.error('usage: <system>-transaction.ts <databaseUrl> <warmup> <samples> <burst>');
    process.exit(2);
  }
  return { databaseUrl, warmup: Number(warmup), samples: Number(samples), burst: Number(burst) };
}

/** The unmeasured warm-up burst: a fifth of the measured one. */
export const warmupBurst = (burst: number) => Math.max(1, Math.round(burst / 5));

/** Counter rows a pass uses: one per workflow it starts. */
export const workflowsOfPass = (a: { warmup: number; samples: number; burst: number }) =>
  a.warmup + a.samples + warmupBurst(a.burst) + a.burst;

/**
 * What a system's process starts with, either system: its arguments, how many workflows its pass
 * runs, and a connection on its database, where the app's tables are made.
 */
export async function openPass(): Promise<{ args: ReturnType<typeof transactionArgs>; workflows: number; admin: pg.Client }> {
  const args = transactionArgs();
  const workflows = workflowsOfPass(args);
  const admin = new pg.Client({ connectionString: args.databaseUrl });
  await admin.connect();
  await createAppTables(admin, workflows);
  return { args, workflows, admin };
}

export interface Start {
  (input: OrderInput): Promise<{ result(): Promise<OrderOutput> }>;
}

/**
 * One pass, the same for both systems: `warmup` workflows one at a time and a burst of a fifth
 * of `burst`, unmeasured; then `samples` one at a time (start -> result, each awaited before the
 * next starts); then `burst` started at once (Promise.all of the starts, then of the results).
 * Each workflow's result is checked: its counter went from 0 to 1.
 */
export async function runPass(
  start: Start,
  a: { warmup: number; samples: number; burst: number },
): Promise<Omit<TransactionResults, 'type' | 'check' | 'notes'>> {
  let next = 0;
  const input = (phase: string): OrderInput => {
    const i = next++;
    return { id: `${phase}-${i}`, total: 1 + (i % 100), counter: i };
  };
  const checked = (inp: OrderInput, out: OrderOutput) => {
    if (out?.n !== 1) throw new Error(`workflow of order ${inp.id}: counter ${inp.counter} became ${out?.n}, not 1`);
    return out;
  };
  const one = async (phase: string) => {
    const inp = input(phase);
    const t0 = performance.now();
    const out = checked(inp, await (await start(inp)).result());
    return { ms: performance.now() - t0, txMs: out.txMs };
  };
  const many = async (phase: string, n: number) => {
    const inputs = Array.from({ length: n }, () => input(phase));
    const t0 = performance.now();
    const handles = await Promise.all(inputs.map((inp) => start(inp)));
    const outs = await Promise.all(handles.map((h, i) => h.result().then((out) => checked(inputs[i]!, out))));
    return { seconds: (performance.now() - t0) / 1000, txMs: outs.map((o) => o.txMs) };
  };

  for (let i = 0; i < a.warmup; i++) await one('warm');
  await many('warmburst', warmupBurst(a.burst));

  const latency: number[] = [];
  const transaction: number[] = [];
  for (let i = 0; i < a.samples; i++) {
    const s = await one('seq');
    latency.push(s.ms);
    transaction.push(s.txMs);
  }
  const burst = await many('burst', a.burst);
  return {
    latency,
    transaction,
    throughput: { workflows: a.burst, seconds: burst.seconds },
    throughputTransaction: burst.txMs,
  };
}

export function sendResults(r: Omit<TransactionResults, 'type'>): void {
  const m: TransactionResults = { type: 'results', ...r };
  if (process.send) process.send(m);
  else console.log(JSON.stringify(m));
  process.disconnect?.();
}
