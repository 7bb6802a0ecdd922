// What parking costs (DESIGN "Waiting and slots"), skein only, on its own embedded Postgres at
// default durability:
//  a. wake-up latency of a parked workflow by its number of recorded steps (a parked workflow
//     replays them on wake), one send at a time, against one that stayed on its thread;
//  b. a relaunch over a big parked backlog: it must re-arm every wake condition without
//     dispatching anything, quickly and in little memory.
// Run: npx tsx bench/parking.ts [--quick]   (writes bench/PARKING.md; --quick: bench/quick/PARKING.md, git-ignored)
import { fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { Skein, type SkeinConfig } from '../runtime/index.ts';
import type { RelaunchFigures } from './parking-relaunch.ts';
import { writeReport } from './report.ts';
import { withBenchPostgres } from './server.ts';
import { sleepThenStep, stepsThenRecv, wallClock } from './workflows.ts';
import { quantile } from './workloads.ts';

const quick = process.argv.includes('--quick');
const M = quick ? 50 : 200;
const K = quick ? 5_000 : 100_000;
const STEP_COUNTS = [1, 10, 100];
const BACKLOG_SLEEP_MS = 600_000;
const EXECUTOR = 'parking-bench';

console.log(
  `parking (${quick ? 'quick' : 'full'}): a. wake-up of ${M} parked workflows per recorded-step count ` +
    `(${STEP_COUNTS.join(', ')}), one send at a time, vs ${M} not parked (parkAfterMs 600000, send 100 ms into recv); ` +
    `b. ${K} workflows in ctx.sleep(${BACKLOG_SLEEP_MS}), parked, then a relaunch in a fresh process; ` +
    `threads = ${availableParallelism()} cores, default durability, Node ${process.version}`,
);

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (bytes: number) => bytes / 2 ** 20;

/** Polls until `cond` holds; throws with `what` and skein's stats after `timeoutMs`. */
async function until(skein: Skein, cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(skein.waiterStats())}`);
    await pause(10);
  }
}

interface Latencies {
  median: number;
  p99: number;
}
const summary = (xs: number[]): Latencies => ({ median: quantile(xs, 0.5), p99: quantile(xs, 0.99) });

/** a. M workflows of `steps` steps, all parked, then woken one message at a time. */
async function parkedWakeUps(skein: Skein, steps: number, m: number): Promise<number[]> {
  const handles = await Promise.all(Array.from({ length: m }, () => skein.start(stepsThenRecv, steps)));
  await until(skein, () => skein.waiterStats().parked === m, `${m} parked`, 60_000 + m * steps * 10);
  const latencies: number[] = [];
  for (const h of handles) {
    const sentAt = wallClock();
    await skein.send(h.id, sentAt, 't');
    latencies.push((await h.result()) - sentAt);
  }
  return latencies;
}

/** a, baseline: the same workflow woken while still on its thread, 100 ms into its recv. */
async function residentWakeUps(skein: Skein, steps: number, m: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < m; i++) {
    const h = await skein.start(stepsThenRecv, steps);
    await until(skein, () => skein.waiterStats().waiting === 1, 'the recv to wait', 60_000);
    await pause(100);
    const sentAt = wallClock();
    await skein.send(h.id, sentAt, 't');
    latencies.push((await h.result()) - sentAt);
  }
  return latencies;
}

/** b, second half: Skein.launch over the backlog in a fresh process, as after a restart. */
function relaunch(databaseUrl: string): Promise<RelaunchFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./parking-relaunch.ts', import.meta.url), [databaseUrl, EXECUTOR, String(K)], {
      execArgv: ['--import=tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let figures: RelaunchFigures | undefined;
    child.on('message', (m: RelaunchFigures) => (figures = m));
    child.on('exit', (code) => (figures ? resolve(figures) : reject(new Error(`relaunch exited with ${code}`))));
  });
}

await withBenchPostgres(async (server) => {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  for (const name of ['parking_wake', 'parking_backlog']) await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const urlOf = (name: string) => server.url.replace(/\/postgres$/, `/${name}`);
  const workflows = new URL('./workflows.ts', import.meta.url);
  const config: SkeinConfig = { workflows, databaseUrl: urlOf('parking_wake') };

  // a. At the default parkAfterMs, then with parking out of reach. Each with a warm-up round,
  // so the first samples do not pay for JIT and for connections opened on demand.
  const parked: Record<number, Latencies> = {};
  const resident: Record<number, Latencies> = {};
  let skein = await Skein.launch(config);
  await parkedWakeUps(skein, 1, 10);
  for (const steps of STEP_COUNTS) {
    parked[steps] = summary(await parkedWakeUps(skein, steps, M));
    console.log(`  a. parked, ${steps} steps: median ${parked[steps]!.median.toFixed(2)} ms, p99 ${parked[steps]!.p99.toFixed(2)} ms`);
  }
  await skein.shutdown();
  skein = await Skein.launch({ ...config, parkAfterMs: 600_000 });
  await residentWakeUps(skein, 1, 10);
  for (const steps of STEP_COUNTS) {
    resident[steps] = summary(await residentWakeUps(skein, steps, M));
    console.log(`  a. not parked, ${steps} steps: median ${resident[steps]!.median.toFixed(2)} ms, p99 ${resident[steps]!.p99.toFixed(2)} ms`);
  }
  await skein.shutdown();

  // b. The backlog: K sleepers, all parked, then this process lets go of them.
  const backlogUrl = urlOf('parking_backlog');
  skein = await Skein.launch({ workflows, databaseUrl: backlogUrl, executorId: EXECUTOR });
  const rssIdle = process.memoryUsage().rss;
  let t0 = Date.now();
  await Promise.all(Array.from({ length: K }, () => skein.start(sleepThenStep, BACKLOG_SLEEP_MS)));
  const startS = (Date.now() - t0) / 1000;
  await until(skein, () => skein.waiterStats().parked === K, `${K} parked`, 30 * 60_000);
  const parkedS = (Date.now() - t0) / 1000;
  const rssParked = process.memoryUsage().rss;
  const heapParked = process.memoryUsage().heapUsed;
  console.log(`  b. ${K} started in ${startS.toFixed(1)} s, all parked after ${parkedS.toFixed(1)} s, RSS ${mib(rssParked).toFixed(0)} MiB`);
  t0 = Date.now();
  await skein.shutdown();
  const shutdownS = (Date.now() - t0) / 1000;
  const r = await relaunch(backlogUrl);

  const f2 = (x: number) => x.toFixed(2);
  const lines = [
    `# skein parking benchmark`,
    '',
    `Generated by \`npx tsx bench/parking.ts${quick ? ' --quick' : ''}\` (${quick ? 'quick' : 'full'} sizes) on ` +
      `${new Date().toISOString().slice(0, 10)}: ${availableParallelism()} cores, Node ${process.version}, embedded ` +
      `PostgreSQL at default durability, skein at default settings except where said.`,
    '',
    `a. send -> recv returns, one message at a time, ${M} workflows per row (ms, lower is better). Parked: ` +
      `default parkAfterMs, each woken after all ${M} parked, so it is re-dispatched and replays its recorded steps ` +
      `(loaded in one query) before recv returns. Not parked: parkAfterMs 600000, sent 100 ms into the recv.`,
    '',
    '| recorded steps | parked median | parked p99 | not parked median | not parked p99 |',
    '|---:|---:|---:|---:|---:|',
    ...STEP_COUNTS.map(
      (s) => `| ${s} | ${f2(parked[s]!.median)} | ${f2(parked[s]!.p99)} | ${f2(resident[s]!.median)} | ${f2(resident[s]!.p99)} |`,
    ),
    '',
    `b. ${K} workflows in ctx.sleep(${BACKLOG_SLEEP_MS}), all parked, shut down, then Skein.launch with the same ` +
      `executorId in a fresh process (as after a restart), watched for 3 s (the threads boot) and then ${r.watchS} s.`,
    '',
    '| measurement | value |',
    '|---|---:|',
    `| start ${K} (concurrently), until the last start resolved | ${startS.toFixed(1)} s |`,
    `| start ${K}, until all parked | ${parkedS.toFixed(1)} s |`,
    `| RSS after launch, before the starts / with all parked | ${mib(rssIdle).toFixed(0)} / ${mib(rssParked).toFixed(0)} MiB |`,
    `| main-thread heap used with all parked | ${mib(heapParked).toFixed(0)} MiB |`,
    `| shutdown() with all parked | ${shutdownS.toFixed(2)} s |`,
    `| relaunch: Skein.launch | ${r.launchS.toFixed(2)} s |`,
    `| relaunch: from launch until waiterStats().parked === ${K} | ${r.rearmedS.toFixed(2)} s |`,
    `| relaunch: RSS with all re-armed (a fresh process) | ${mib(r.rss).toFixed(0)} MiB |`,
    `| relaunch: main-thread heap used | ${mib(r.heapUsed).toFixed(0)} MiB |`,
    `| relaunch: waiterStats().timers | ${r.timers} |`,
    `| relaunch: max waiterStats().ready over 3 + ${r.watchS} s | ${r.maxReady} |`,
    `| relaunch: process CPU time (threads included), first 3 s / next ${r.watchS} s | ${r.bootCpuMs.toFixed(0)} / ${r.cpuMs.toFixed(0)} ms |`,
    `| relaunch: parked-condition checks over those ${r.watchS} s | ${r.checks} |`,
    `| relaunch: workflows whose attempts grew (dispatched) | ${r.dispatched} |`,
    `| relaunch: shutdown() | ${r.shutdownS.toFixed(2)} s |`,
    '',
  ];
  const markdown = lines.join('\n');
  const file = writeReport('PARKING.md', quick, markdown);
  console.log(`\n${markdown}\nwritten to ${file}`);
});
