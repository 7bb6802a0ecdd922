// `npm run bench [-- --quick]`: skein and the DBOS Transact TypeScript SDK, side by side, in one
// run on one embedded Postgres with its default durability. Each system gets its own database
// and its own process (DBOS is a process-wide singleton), run one after the other so they do
// not compete for the two cores. Writes bench/RESULTS.md.
import { MultiBar, Presets } from 'cli-progress';
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import pg from 'pg';
import { measureCeiling } from './ceiling.ts';
import { renderResults, type Row } from './report.ts';
import { withBenchPostgres } from './server.ts';
import type { ChildMessage } from './systems/child.ts';
import { SIZES, type Metrics } from './workloads.ts';

const mode = process.argv.includes('--quick') ? 'quick' : 'full';
const sizes = SIZES[mode];
const systems = ['skein', 'dbos'] as const;
const dbosVersion = JSON.parse(
  readFileSync(new URL('../node_modules/@dbos-inc/dbos-sdk/package.json', import.meta.url), 'utf8'),
).version as string;
const skeinVersion = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string;

console.log(
  `skein bench (${mode}): ${sizes.concurrent} concurrent / ${sizes.sequential} sequential / ` +
    `${sizes.queued} queued no-op workflows, ${sizes.cpu} CPU-heavy (3 x ${sizes.cpuMs} ms), ` +
    `${sizes.pings} message round trips, ${sizes.steps} steps; skein ${skeinVersion} vs DBOS SDK ${dbosVersion}; ` +
    `${availableParallelism()} cores, Node ${process.version}`,
);

const TOTALS: Record<string, number> = {
  concurrent: sizes.concurrent,
  sequential: sizes.sequential,
  queued: sizes.queued,
  cpu: sizes.cpu,
  messages: sizes.pings + 1,
  steps: 1,
};
const grandTotal = Object.values(TOTALS).reduce((a, b) => a + b, 0);

function runSystem(system: string, databaseUrl: string, bars: MultiBar): Promise<Record<string, Metrics>> {
  const bar = bars.create(grandTotal, 0, { system: system.padEnd(5), workload: 'starting' });
  const offsets: Record<string, number> = {};
  let offset = 0;
  for (const [name, total] of Object.entries(TOTALS)) {
    offsets[name] = offset;
    offset += total;
  }
  return new Promise((resolve, reject) => {
    const child = fork(new URL(`./systems/${system}.ts`, import.meta.url), [databaseUrl, mode], {
      execArgv: ['--import=tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    let results: Record<string, Metrics> | undefined;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'progress') bar.update(offsets[m.workload]! + m.done, { workload: m.workload });
      else results = m.results;
    });
    child.on('exit', (code) => {
      bar.update(grandTotal, { workload: 'done' });
      if (results) resolve(results);
      else reject(new Error(`${system} benchmark exited with ${code}:\n${stderr.slice(-3000)}`));
    });
  });
}

await withBenchPostgres(async (server) => {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const pgVersion = (await admin.query('SHOW server_version')).rows[0].server_version as string;
  const settings = (await admin.query(`SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')`)).rows
    .map((r) => `${r.name}=${r.setting}`)
    .join(', ');
  const urls: Record<string, string> = {};
  for (const name of [...systems, 'ceiling']) {
    await admin.query(`CREATE DATABASE bench_${name}`);
    urls[name] = server.url.replace(/\/postgres$/, `/bench_${name}`);
  }
  await admin.end();

  const bars = new MultiBar(
    { format: '  {system} {bar} {percentage}% | {workload}', hideCursor: true, clearOnComplete: false },
    Presets.shades_classic,
  );
  const results: Record<string, Record<string, Metrics>> = {};
  for (const system of systems) results[system] = await runSystem(system, urls[system]!, bars);
  bars.stop();
  const ceiling = await measureCeiling(urls.ceiling!, mode === 'quick' ? 2000 : 5000);

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
  ];
  const markdown = renderResults({
    mode,
    command: `npm run bench${mode === 'quick' ? ' -- --quick' : ''}`,
    machine: `${availableParallelism()} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${pgVersion} (embedded, ${settings})`,
    versions: `skein ${skeinVersion}, @dbos-inc/dbos-sdk ${dbosVersion}`,
    rows,
    ceiling,
    writer: `skein's writer during workload 1: ${s.concurrent!.rowsPerFlush!.toFixed(1)} rows per flush, ${s.concurrent!.transactionsPerWorkflow!.toFixed(3)} transactions per workflow`,
  });
  writeFileSync(new URL('./RESULTS.md', import.meta.url), markdown);
  console.log(`\n${markdown}`);
});
