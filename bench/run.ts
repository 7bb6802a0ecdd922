// `npm run bench [-- --quick]`: skein and the DBOS Transact TypeScript SDK, side by side, in one
// run on one embedded Postgres with its default durability. Each system gets its own database
// and its own process (DBOS is a process-wide singleton), run one after the other so they do
// not compete for the two cores. Writes bench/RESULTS.md, or with --quick bench/quick/RESULTS.md
// (git-ignored: a quick run never overwrites the committed full one).
import { fork } from 'node:child_process';
import { resultOfChild } from './fork.ts';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { resolveConfig } from '../runtime/config.ts';
import { measureCeiling } from './ceiling.ts';
import { Progress } from './progress.ts';
import { renderResults, writeReport, type Row, machineFacts } from './report.ts';
import { withBenchPostgres } from './server.ts';
import type { ChildMessage } from './systems/child.ts';
import { SLEEP_MS, SLEEPERS, SYSTEM_TABLES } from './sleepers.ts';
import { SIZES, type Metrics } from './workloads.ts';
import { CAMPAIGN } from './campaign.ts';
import type { CampaignReport } from '../test/support/campaign.ts';

const mode = process.argv.includes('--quick') ? 'quick' : 'full';
const sizes = SIZES[mode];
const sleepers = SLEEPERS[mode];
/** DBOS's sleepers in full mode if 100,000 fail (only then; the report row says so) */
const DBOS_SLEEPERS_CAP = 20_000;
/** what skein-sleepers.ts launches with: nothing but the workflows module and the database */
const defaults = resolveConfig({ workflows: new URL('./workflows.ts', import.meta.url) });
const systems = ['skein', 'dbos'] as const;
const dbosVersion = JSON.parse(
  readFileSync(new URL('../node_modules/@dbos-inc/dbos-sdk/package.json', import.meta.url), 'utf8'),
).version as string;
const skeinVersion = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;

console.log(
  `skein bench (${mode}): ${sizes.concurrent} concurrent / ${sizes.burst} in a burst / ${sizes.sequential} sequential / ` +
    `${sizes.queued} queued no-op workflows, ${sizes.cpu} CPU-heavy (3 x ${sizes.cpuMs} ms), ` +
    `${sizes.pings} message round trips, ${sizes.steps} steps, ${sleepers} workflows sleeping ${SLEEP_MS / 1000} s; skein ${skeinVersion} vs DBOS SDK ${dbosVersion}; ` +
    `${availableParallelism()} cores, Node ${process.version}`,
);

const TOTALS: Record<string, number> = {
  concurrent: sizes.concurrent,
  burst: sizes.burst,
  sequential: sizes.sequential,
  queued: sizes.queued,
  cpu: sizes.cpu,
  messages: sizes.pings + 1,
  steps: 1,
};

/** Runs one system's benchmark process (`systems/<script>.ts`) and returns its figures. */
function runSystem(
  system: string,
  script: string,
  databaseUrl: string,
  totals: Record<string, number>,
  progress: Progress,
  args: string[] = [],
): Promise<Record<string, Metrics>> {
  const grandTotal = Object.values(totals).reduce((a, b) => a + b, 0);
  const run = progress.start(system, grandTotal);
  const offsets: Record<string, number> = {};
  let offset = 0;
  for (const [name, total] of Object.entries(totals)) {
    offsets[name] = offset;
    offset += total;
  }
  return new Promise((resolve, reject) => {
    const child = fork(new URL(`./systems/${script}.ts`, import.meta.url), [databaseUrl, mode, ...args], {
      execArgv: ['--import=tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    let results: Record<string, Metrics> | undefined;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'progress') run.update(offsets[m.workload]! + m.done, m.workload);
      else results = m.results;
    });
    child.on('exit', (code, signal) => {
      run.end(results !== undefined);
      if (results) resolve(results);
      else reject(new Error(`${script} benchmark exited with ${code ?? signal}:\n${stderr.slice(-3000)}`));
    });
  });
}

/** Rows and on-disk size of a system's status and steps tables, after workload 8. */
async function countRows(system: string, databaseUrl: string): Promise<Metrics> {
  const { status, steps } = SYSTEM_TABLES[system]!;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT (SELECT count(*) FROM ${status})::int AS "statusRows", (SELECT count(*) FROM ${steps})::int AS "stepRows",
              (pg_total_relation_size('${status}') + pg_total_relation_size('${steps}')) / 1048576.0 AS "tablesMb"`,
    );
    return { statusRows: rows[0].statusRows, stepRows: rows[0].stepRows, tablesMb: Number(rows[0].tablesMb) };
  } finally {
    await client.end();
  }
}

await withBenchPostgres(async (server) => {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const machine = await machineFacts(admin);
  const urls: Record<string, string> = {};
  for (const name of [...systems, ...systems.map((sys) => `${sys}_sleep`), 'ceiling', 'campaign']) {
    await admin.query(`CREATE DATABASE bench_${name}`);
    urls[name] = server.url.replace(/\/postgres$/, `/bench_${name}`);
  }
  await admin.end();

  const progress = new Progress();
  const results: Record<string, Record<string, Metrics>> = {};
  for (const system of systems) results[system] = await runSystem(system, system, urls[system]!, TOTALS, progress);
  // workload 8, each system in a fresh process on a database of its own (bench/sleepers.ts)
  const sleep: Record<string, Metrics> = {};
  for (const system of systems) {
    const url = urls[`${system}_sleep`]!;
    try {
      sleep[system] = (await runSystem(system, `${system}-sleepers`, url, { sleep: sleepers }, progress)).sleep!;
    } catch (err) {
      if (system !== 'dbos' || mode !== 'full') throw err;
      console.error(`\nDBOS failed workload 8 at ${sleepers} workflows; running it at ${DBOS_SLEEPERS_CAP}:\n${err}`);
      await recreateDatabase(server.url, `bench_${system}_sleep`);
      const capped = { sleep: DBOS_SLEEPERS_CAP };
      sleep[system] = (await runSystem(system, `${system}-sleepers`, url, capped, progress, [String(DBOS_SLEEPERS_CAP)])).sleep!;
    }
    Object.assign(sleep[system]!, await countRows(system, url));
  }
  progress.stop();
  const ceiling = await measureCeiling(urls.ceiling!, mode === 'quick' ? 2000 : 5000);
  console.log('crash campaign (skein only)...');
  const campaign = await runCampaignChild(urls.campaign!);

  const s = results.skein!;
  const d = results.dbos!;
  const rows: Row[] = [
    { n: 1, workload: `${sizes.concurrent} workflows of 3 no-op steps, started concurrently`, unit: 'workflows/s', skein: s.concurrent!.workflowsPerSecond!, dbos: d.concurrent!.workflowsPerSecond!, higherIsBetter: true, target: 10 },
    { n: 2, workload: `the same, ${sizes.sequential} starts each awaited in turn`, unit: 'workflows/s', skein: s.sequential!.workflowsPerSecond!, dbos: d.sequential!.workflowsPerSecond!, higherIsBetter: true, target: 3 },
    { n: 3, workload: `${sizes.queued} enqueued on a queue with workerConcurrency 64`, unit: 'workflows/s', skein: s.queued!.workflowsPerSecond!, dbos: d.queued!.workflowsPerSecond!, higherIsBetter: true, target: 20 },
    { n: 4, workload: `${sizes.cpu} CPU-heavy workflows (3 steps x ${sizes.cpuMs} ms of CPU)`, unit: 'workflows/s', skein: s.cpu!.workflowsPerSecond!, dbos: d.cpu!.workflowsPerSecond!, higherIsBetter: true, target: 1.7 },
    { n: 4, workload: 'main-thread event-loop delay during 4, p99', unit: 'ms', skein: s.cpu!.loopDelayP99Ms!, dbos: d.cpu!.loopDelayP99Ms!, higherIsBetter: false },
    { n: 4, workload: 'main-thread event-loop delay during 4, max', unit: 'ms', skein: s.cpu!.loopDelayMaxMs!, dbos: d.cpu!.loopDelayMaxMs!, higherIsBetter: false },
    { n: 5, workload: `send -> recv wake-up, median of ${sizes.pings}`, unit: 'ms', skein: s.messages!.recvMedianMs!, dbos: d.messages!.recvMedianMs!, higherIsBetter: false },
    { n: 5, workload: 'send -> recv wake-up, p99', unit: 'ms', skein: s.messages!.recvP99Ms!, dbos: d.messages!.recvP99Ms!, higherIsBetter: false },
    { n: 5, workload: 'setEvent -> getEvent wake-up, median', unit: 'ms', skein: s.messages!.eventMedianMs!, dbos: d.messages!.eventMedianMs!, higherIsBetter: false },
    { n: 6, workload: `step checkpoint latency, one workflow alone, median of ${sizes.steps}`, unit: 'ms', skein: s.steps!.stepMedianMs!, dbos: d.steps!.stepMedianMs!, higherIsBetter: false, target: 1 },
    ...sleepRows(sleep.skein!, sleep.dbos!),
    { n: 9, workload: `${sizes.burst} starts arriving ${100} per event-loop turn, each awaited: throughput`, unit: 'workflows/s', skein: s.burst!.workflowsPerSecond!, dbos: d.burst!.workflowsPerSecond!, higherIsBetter: true },
    { n: 9, workload: 'main-thread event-loop delay during 9, p99', unit: 'ms', skein: s.burst!.loopDelayP99Ms!, dbos: d.burst!.loopDelayP99Ms!, higherIsBetter: false },
    { n: 9, workload: 'main-thread event-loop delay during 9, max', unit: 'ms', skein: s.burst!.loopDelayMaxMs!, dbos: d.burst!.loopDelayMaxMs!, higherIsBetter: false },
  ];
  const markdown = renderResults({
    mode,
    command: `npm run bench${mode === 'quick' ? ' -- --quick' : ''}`,
    machine,
    versions: `skein ${skeinVersion}, @dbos-inc/dbos-sdk ${dbosVersion}`,
    rows,
    ceiling,
    notes: [
      `Workload 8: skein at its default settings (threads ${defaults.threads}, workflowsPerThread ${defaults.workflowsPerThread}, ` +
        `parkAfterMs ${defaults.parkAfterMs}), ` +
        `each system in a fresh process on a database of its own; no warm-up. Peak RSS is sampled every 250 ms ` +
        `from the first start to the last finish (skein's worker threads live in that process). The drain runs ` +
        `from the first wake-up (first start + ${SLEEP_MS / 1000} s) to the last finish, so it includes the spread ` +
        `of the starts; from the last start's wake-up to the last finish: skein ${sleep.skein!.tailSeconds!.toFixed(1)} s, ` +
        `DBOS ${sleep.dbos!.tailSeconds!.toFixed(1)} s.`,
    ],
    campaign: campaignSection(campaign),
    writer: `skein's writer during workload 1: ${s.concurrent!.rowsPerFlush!.toFixed(1)} rows per flush, ${s.concurrent!.transactionsPerWorkflow!.toFixed(3)} transactions per workflow`,
  });
  const file = writeReport('RESULTS.md', mode === 'quick', markdown);
  console.log(`\n${markdown}\nwritten to ${file}`);
});

/** bench/campaign.ts in a process of its own: its workers are killed, not this process's. */
function runCampaignChild(databaseUrl: string): Promise<CampaignReport> {
  return resultOfChild<CampaignReport>(new URL('./campaign.ts', import.meta.url), [databaseUrl, mode], 'campaign');
}

function campaignSection(r: CampaignReport): string[] {
  const size = CAMPAIGN[mode];
  return [
    '## Crash campaign (skein only)',
    '',
    `\`bench/campaign.ts\`, at skein's defaults: ${size.healthy} healthy workflows of ${size.steps} steps of ${size.stepMs} ms ` +
      `(a quarter wait for a message half-way), ${size.large} whose step returns ${size.largeMb} MB, ${size.poison} that kill ` +
      `their thread every run and ${size.poison} that throw an error that cannot be encoded, while random worker threads are ` +
      `killed (DBOS has no worker thread to kill). Must be 0: healthy workflows dead-lettered or failed, checkpointed steps run again.`,
    '',
    '| workflows | thread kills | healthy dead-lettered | healthy not SUCCESS | checkpointed steps run again | poison contained | seconds |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    `| ${r.workflows} | ${r.kills} | ${r.healthyDeadLettered} | ${r.healthyFailed} | ${r.rerunCheckpointedSteps} | ${r.poisonContained} of ${r.poisonTotal} | ${r.seconds.toFixed(0)} |`,
  ];
}

/** The rows of workload 8; a DBOS run capped after a failure says so in each row. */
function sleepRows(s: Metrics, d: Metrics): Row[] {
  const capped = d.n !== s.n ? ` (DBOS: ${d.n} workflows, it failed at ${s.n})` : '';
  const row = (workload: string, unit: string, key: string): Row =>
    ({ n: 8, workload: workload + capped, unit, skein: s[key]!, dbos: d[key]!, higherIsBetter: false });
  return [
    row(`${s.n} workflows that sleep ${SLEEP_MS / 1000} s then run one step: time to start them all`, 's', 'startSeconds'),
    row('peak RSS of the process during 8, first start to last finish', 'MiB', 'peakRssMb'),
    row('drain during 8, first wake-up to last finish', 's', 'drainSeconds'),
    row('rows in the workflow status table after 8', 'rows', 'statusRows'),
    row('rows in the steps table after 8', 'rows', 'stepRows'),
    row('size on disk of those two tables after 8', 'MiB', 'tablesMb'),
  ];
}

async function recreateDatabase(serverUrl: string, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
}
