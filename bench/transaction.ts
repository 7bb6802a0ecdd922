// A transactional step, skein side by side with the DBOS Transact TypeScript SDK: a workflow of
// one transaction (INSERT an order, UPDATE the workflow's own counter row, through Drizzle), the
// transaction's output recorded in the same Postgres transaction (exactly once) and then
// checkpointed as a step. skein: ctx.transaction on its default datasource (the system
// database), on the workflow's worker thread; DBOS: @dbos-inc/drizzle-datasource's
// runTransaction (node-postgres underneath), on the main thread, its app tables likewise in its
// system database. Measured:
//  1. latency: one workflow at a time, start -> result (p50, p99);
//  2. throughput: a burst of workflows started at once, workflows/s from the first start to the
//     last result;
//  3. the transaction call alone, timed inside the workflow (it includes its checkpoint).
// After each pass the rows are counted: one order per workflow, each counter at exactly 1, one
// transaction record per workflow, on both systems.
// Method: each system in its own process (bench/systems/<system>-transaction.ts), one embedded
// Postgres at default durability, a fresh database per system and pass; 3 alternating passes
// (skein, DBOS, skein, DBOS, skein, DBOS), each running an unmeasured warm-up, then the samples;
// skein at its defaults, DBOS at its defaults.
// Run: npx tsx bench/transaction.ts [--quick]   (npm run bench:transaction; writes
// bench/TRANSACTION.md, or with --quick bench/quick/TRANSACTION.md, git-ignored)
import { resultOfChild } from './fork.ts';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { resolveConfig, DEFAULT_DATASOURCE_POOL_SIZE } from '../runtime/config.ts';
import { warmupBurst, type TransactionResults } from './transaction-workflows.ts';
import { machineFacts, packageVersion, writeReport, SYSTEMS, dbosVersion, skeinVersion, type System } from './report.ts';
import { withBenchPostgres } from './server.ts';
import { quantile } from './workloads.ts';

const quick = process.argv.includes('--quick');
const PASSES = 3;
const WARMUP = quick ? 10 : 30;
const SAMPLES = quick ? 50 : 300;
const BURST = quick ? 200 : 1000;
const systems = SYSTEMS;
const NAME: Record<System, string> = { skein: 'skein', dbos: 'DBOS' };

const drizzleDsVersion = packageVersion('../node_modules/@dbos-inc/drizzle-datasource/package.json');
const drizzleVersion = packageVersion('../node_modules/drizzle-orm/package.json');
const pgVersionJs = packageVersion('../node_modules/pg/package.json');
const defaults = resolveConfig({ workflows: new URL('./transaction-workflows.ts', import.meta.url) });

const parameters =
  `transactional step (${quick ? 'quick' : 'full'}): a workflow of one transaction (Drizzle INSERT of an order + UPDATE of the workflow's own counter row), ` +
  `its output recorded in the same transaction, then checkpointed; ${PASSES} alternating passes (skein, DBOS, ...), each a fresh process on a fresh database: ` +
  `unmeasured warm-up (${WARMUP} workflows one at a time, a burst of ${warmupBurst(BURST)}), then latency: ${SAMPLES} workflows one at a time, ` +
  `then throughput: ${BURST} workflows started at once; skein ${skeinVersion} at its defaults (threads ${defaults.threads}, ` +
  `workflowsPerThread ${defaults.workflowsPerThread}, datasource 'app' = the system database, poolSize ${DEFAULT_DATASOURCE_POOL_SIZE} per thread) ` +
  `vs DBOS SDK ${dbosVersion} at its defaults with @dbos-inc/drizzle-datasource ${drizzleDsVersion} (node-postgres pool of its default max 10) ` +
  `on its system database; drizzle-orm ${drizzleVersion}, pg ${pgVersionJs}; ${availableParallelism()} cores, Node ${process.version}`;
console.log(parameters);

/** One pass of one system: its process, its figures. */
function runPass(system: System, databaseUrl: string): Promise<TransactionResults> {
  const script = new URL(`./systems/${system}-transaction.ts`, import.meta.url);
  return resultOfChild<TransactionResults>(script, [databaseUrl, String(WARMUP), String(SAMPLES), String(BURST)], `${system}-transaction`);
}

const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
const rate = (r: TransactionResults) => r.throughput.workflows / r.throughput.seconds;
const p = (xs: number[], q: number) => quantile(xs, q);

await withBenchPostgres(async (server) => {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const machine = await machineFacts(admin);

  const passes: Record<System, TransactionResults[]> = { skein: [], dbos: [] };
  for (let pass = 1; pass <= PASSES; pass++) {
    for (const system of systems) {
      const db = `bench_tx_${system}_${pass}`;
      await admin.query(`CREATE DATABASE ${db}`);
      const started = Date.now();
      const r = await runPass(system, server.url.replace(/\/postgres$/, `/${db}`));
      await admin.query(`DROP DATABASE ${db}`);
      passes[system].push(r);
      console.log(
        `pass ${pass} ${system} (${((Date.now() - started) / 1000).toFixed(0)} s): ` +
          `latency p50 ${ms(p(r.latency, 0.5))} ms, p99 ${ms(p(r.latency, 0.99))} ms (n ${r.latency.length}); ` +
          `transaction call p50 ${ms(p(r.transaction, 0.5))} ms; ` +
          `throughput ${rate(r).toFixed(0)} workflows/s (${r.throughput.workflows} in ${r.throughput.seconds.toFixed(2)} s, ` +
          `transaction call p50 ${ms(p(r.throughputTransaction, 0.5))} ms); rows ${JSON.stringify(r.check)}`,
      );
    }
  }
  await admin.end();

  /** per system: the figure of each pass, the median of them, their spread */
  const across = (system: System, figure: (r: TransactionResults) => number) => {
    const xs = passes[system].map(figure);
    return { xs, mid: quantile(xs, 0.5), min: Math.min(...xs), max: Math.max(...xs) };
  };
  /** `compare`: in the table of medians side by side (the transaction call under load is not: see the note below it) */
  const measures: { label: string; unit: string; higherIsBetter: boolean; compare?: false; value: (r: TransactionResults) => number; cell: (r: TransactionResults) => string; fmt: (x: number) => string }[] = [
    {
      label: 'latency, start -> result, p50',
      unit: 'ms',
      higherIsBetter: false,
      value: (r) => p(r.latency, 0.5),
      cell: (r) => `${ms(p(r.latency, 0.5))} / ${ms(p(r.latency, 0.99))}`,
      fmt: ms,
    },
    {
      label: 'latency, start -> result, p99',
      unit: 'ms',
      higherIsBetter: false,
      value: (r) => p(r.latency, 0.99),
      cell: (r) => ms(p(r.latency, 0.99)),
      fmt: ms,
    },
    {
      label: 'the transaction call inside the workflow (one at a time), p50',
      unit: 'ms',
      higherIsBetter: false,
      value: (r) => p(r.transaction, 0.5),
      cell: (r) => `${ms(p(r.transaction, 0.5))} / ${ms(p(r.transaction, 0.99))}`,
      fmt: ms,
    },
    {
      label: `throughput, ${BURST} workflows started at once`,
      unit: 'workflows/s',
      higherIsBetter: true,
      value: rate,
      cell: (r) => rate(r).toFixed(0),
      fmt: (x) => x.toFixed(0),
    },
    {
      label: `the transaction call inside the workflow, during the ${BURST} at once, p50`,
      unit: 'ms',
      higherIsBetter: false,
      compare: false,
      value: (r) => p(r.throughputTransaction, 0.5),
      cell: (r) => `${ms(p(r.throughputTransaction, 0.5))} / ${ms(p(r.throughputTransaction, 0.99))}`,
      fmt: ms,
    },
  ];

  const passHeads = Array.from({ length: PASSES }, (_, i) => `pass ${i + 1}`);
  const lines = [
    '## Transactional step: skein vs DBOS Transact TypeScript',
    '',
    `Generated by \`npx tsx bench/transaction.ts${quick ? ' --quick' : ''}\` (\`npm run bench:transaction${quick ? ' -- --quick' : ''}\`) ` +
      `on ${new Date().toISOString().slice(0, 10)}. Nothing here is a constant: rerun the command to reproduce.`,
    '',
    `- Machine: ${machine}; other work was running on it.`,
    `- Versions: skein ${skeinVersion}, @dbos-inc/dbos-sdk ${dbosVersion}, @dbos-inc/drizzle-datasource ${drizzleDsVersion}, drizzle-orm ${drizzleVersion}, pg ${pgVersionJs}`,
    `- Parameters: ${parameters.replace(/^transactional step \([a-z]+\): /, '')}`,
    "- The transaction's body is the same function on both sides (bench/transaction-workflows.ts, `writeOrder`): " +
      '`db.insert(bench_orders).values({ id, total })`, then `db.update(bench_counters).set({ n: n + 1 }).where(id = counter).returning({ n })`, ' +
      "through Drizzle: on skein `drizzle({ client: tx })` over ctx.transaction's node-postgres client, on DBOS the datasource's own " +
      'Drizzle transaction client (`ds.client`). Both at read committed (skein\'s default; DBOS\'s plain BEGIN), both with the app tables in the ' +
      'system database, each workflow bumping its own counter row (no row contention between workflows).',
    '- Latency: start the workflow, await its result, then the next (ms, performance.now()); throughput: Promise.all of the starts, ' +
      'then of the results, workflows / seconds from the first start to the last result. The transaction call is timed inside the ' +
      'workflow around `ctx.transaction(...)` / `ds.runTransaction(...)`, so it includes recording the step (skein: the checkpoint ' +
      "committed by main's writer; DBOS: its operation_outputs row).",
    '',
    `| measure | system | ${passHeads.join(' | ')} | median of passes | spread of passes |`,
    `|---|---|${passHeads.map(() => '---:').join('|')}|---:|---:|`,
  ];
  const summary: string[] = [];
  const compare: string[] = [];
  for (const m of measures) {
    const figs = {} as Record<System, ReturnType<typeof across>>;
    for (const system of systems) {
      const a = (figs[system] = across(system, m.value));
      const cells = passes[system].map(m.cell);
      lines.push(`| ${m.label} (${m.unit}${cells[0]!.includes('/') ? ', p50 / p99 in the pass cells' : ''}) | ${NAME[system]} | ${cells.join(' | ')} | **${m.fmt(a.mid)}** | ${m.fmt(a.min)}-${m.fmt(a.max)} |`);
      summary.push(`  ${NAME[system]} ${m.label}: median ${m.fmt(a.mid)} ${m.unit} (passes ${a.xs.map(m.fmt).join(', ')})`);
    }
    if (m.compare === false) continue;
    const ratio = figs.skein.mid / figs.dbos.mid;
    const advantage = m.higherIsBetter ? ratio : 1 / ratio;
    compare.push(
      `| ${m.label} | ${m.unit} (${m.higherIsBetter ? 'higher' : 'lower'} is better) | ${m.fmt(figs.skein.mid)} | ${m.fmt(figs.dbos.mid)} | ${advantage.toFixed(2)}x |`,
    );
  }
  const checks = (system: System) => {
    const cs = passes[system].map((r) => r.check);
    return (
      `${NAME[system]}: ${cs.map((c) => c.workflows).join(', ')} workflows in the passes; after each, as many order rows, ` +
      `counter rows at 1 and ${cs[0]!.recordTable} rows, none above 1 ` +
      `(${cs.map((c) => `${c.orders}/${c.countersAtOne}/${c.countersAboveOne}/${c.records}`).join('; ')} orders/at 1/above 1/records)`
    );
  };
  lines.push(
    '',
    '| measure | unit | skein | DBOS | skein advantage |',
    '|---|---|---:|---:|---:|',
    ...compare,
    '',
    '"skein advantage" is how many times better skein does, on the medians of the passes (skein/DBOS for rates, DBOS/skein for times). ' +
      `The transaction call during the ${BURST} at once is left out of it: it measures where each system makes the burst wait, not the ` +
      `transaction. skein admits ${defaults.threads * defaults.workflowsPerThread} workflows at a time (threads x workflowsPerThread), ` +
      "so the others wait for a slot before their workflow code runs and the call itself meets little queueing; DBOS starts every " +
      'workflow at once, so all of them queue inside the call, for a connection of its pools. Throughput is the comparable figure there.',
    '',
    `Rows, counted after each pass (a pass fails unless every workflow wrote exactly one order, bumped its counter from 0 to exactly 1, ` +
      `and left one transaction record): ${checks('skein')}; ${checks('dbos')}. Every workflow's result (its counter's new value) was 1.`,
    '',
    ...[...new Set(passes.dbos.flatMap((r) => r.notes))].map((n) => `- ${n}`),
    '',
    'What each does per transaction:',
    '',
    "- skein (datasources/transaction.ts, threads/context.ts): on the workflow's worker thread, a connection from the thread's pool " +
      '(4 per thread), BEGIN, a lookup of the record under (workflow ID, step ID), the function, INSERT of the output into ' +
      "skein.transaction_outputs, COMMIT; then the step's checkpoint goes to main, whose writer commits it (batched with other " +
      'checkpoints), and the workflow goes on once that committed. Workflows run `threads x workflowsPerThread` at a time (16 here); ' +
      'the rest wait for a slot.',
    "- DBOS (@dbos-inc/dbos-sdk/dist/src/datasource.js `runTransaction`, dbos-executor.js `runInternalStep`, @dbos-inc/drizzle-datasource " +
      '`invokeTransactionFunction`): on the main thread, a read of the step in the system database (operation_outputs, also checking ' +
      'for a cancel), a read of dbos.transaction_completion outside the transaction, then a Drizzle transaction (BEGIN, the function, ' +
      'INSERT ... ON CONFLICT DO NOTHING RETURNING into dbos.transaction_completion, COMMIT), then an INSERT of the step into ' +
      'operation_outputs. Every started workflow runs at once on the event loop.',
    '- drizzle-datasource 4.27.6 implements no `deleteCheckpoints`, so SDK 5.3.0 does not delete its transaction_completion rows when ' +
      "a workflow completes (it would for a datasource that keeps checkpoints and implements it); neither does skein, whose records " +
      'go with retention.',
    '',
  );
  const markdown = lines.join('\n');
  const file = writeReport('TRANSACTION.md', quick, markdown);
  console.log(`\n${summary.join('\n')}\n\n${markdown}\nwritten to ${file}`);
});
