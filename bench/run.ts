// `npm run bench [-- --quick] [--passes N] [--database-url URL]`: skein and the DBOS Transact
// TypeScript SDK, side by side, in one run on one Postgres server (a throwaway embedded one at
// default durability, or the external server of --database-url). Three columns
// (bench/settings.ts): skein at its defaults, DBOS at its defaults, skein tuned. Each figure is
// the median of alternating passes (skein, DBOS, tuned, skein, DBOS, tuned, ...), each pass of
// each column a fresh process (DBOS is a process-wide singleton) on a fresh database, one after
// another so they never compete for the two cores. Writes bench/RESULTS.md, or with --quick
// bench/quick/RESULTS.md (git-ignored: a quick run never overwrites the committed full one).
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { resolveConfig } from '../runtime/config.ts';
import type { CampaignReport } from '../test/support/campaign.ts';
import { CAMPAIGN } from './campaign.ts';
import { measureCeiling } from './ceiling.ts';
import { median, type Figures } from './figures.ts';
import { resultOfChild } from './fork.ts';
import { parseBenchOptions } from './options.ts';
import { Progress } from './progress.ts';
import { RECOVERY, runRecovery } from './recovery.ts';
import { dbosVersion, durability, machineFacts, renderResults, skeinVersion, writeReport } from './report.ts';
import { benchRows } from './rows.ts';
import { withDatabase, withServer, type BenchServer } from './server.ts';
import { describeTuned, systemOf, VARIANTS } from './settings.ts';
import { countSleeperRows, SLEEP_MS, SLEEPERS } from './sleepers.ts';
import { runSystem } from './system-run.ts';
import { PARKED_WAIT_MS, SIZES, type Metrics } from './workloads.ts';

let options: ReturnType<typeof parseBenchOptions>;
try {
  options = parseBenchOptions(process.argv.slice(2));
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const { mode, passes } = options;
const sizes = SIZES[mode];
const sleepers = SLEEPERS[mode];
const recovery = RECOVERY[mode];
/** DBOS's sleepers in full mode if 100,000 fail (only then; the report rows say so) */
const DBOS_SLEEPERS_CAP = 20_000;
/** what the skein column launches with: the workflows module, the database and the bench's queue */
const defaults = resolveConfig({ workflows: new URL('./workflows.ts', import.meta.url) });
const defaultsText = `threads ${defaults.threads}, workflowsPerThread ${defaults.workflowsPerThread}, parkAfterMs ${defaults.parkAfterMs}`;

console.log(
  `skein bench (${mode}, ${passes} pass${passes > 1 ? 'es' : ''}): ${sizes.concurrent} concurrent / ${sizes.burst} in a burst / ` +
    `${sizes.sequential} sequential / ${sizes.queued} queued no-op workflows, ${sizes.cpu} CPU-heavy (3 x ${sizes.cpuMs} ms), ` +
    `${sizes.pings} message round trips, ${sizes.steps} steps, ${sizes.parked} parked wake-ups, ` +
    `${recovery.n} PENDING workflows recovered after a SIGKILL, ${sleepers} workflows sleeping ${SLEEP_MS / 1000} s; ` +
    `skein ${skeinVersion} at its defaults (${defaultsText}) and tuned (${describeTuned()}) vs DBOS SDK ${dbosVersion}; ` +
    `${availableParallelism()} cores, Node ${process.version}; server: ${options.databaseUrl ? 'external' : 'embedded'}`,
);

/** Units of progress of a workloads process, in the order it runs them (bench/workloads.ts). */
const TOTALS: Record<string, number> = {
  concurrent: sizes.concurrent,
  burst: sizes.burst,
  sequential: sizes.sequential,
  queued: sizes.queued,
  cpu: sizes.cpu,
  messages: sizes.pings + 1,
  steps: 1,
  parked: sizes.parked,
};

await withServer(options.databaseUrl, async (server) => {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const machine = await machineFacts(admin, server.label === 'embedded' ? 'embedded' : 'external');
  const serverFacts = `${server.label}: ${(await admin.query('SELECT version()')).rows[0].version}; ${await durability(admin)}`;
  await admin.end();

  const ceiling = await withDatabase(server, 'ceiling', (url) => measureCeiling(url, mode === 'quick' ? 2000 : 5000));
  const progress = new Progress();
  const figures: Figures = { skein: [], dbos: [], tuned: [] };
  for (let pass = 1; pass <= passes; pass++) {
    for (const variant of VARIANTS) {
      figures[variant].push(
        await withDatabase(server, `${variant}_${pass}`, (databaseUrl) =>
          runSystem({ script: systemOf(variant), databaseUrl, mode, variant, totals: TOTALS, label: `${variant} ${pass}` }, progress),
        ),
      );
    }
    for (const variant of VARIANTS) {
      const r = await withDatabase(server, `${variant}_recovery_${pass}`, (url) => runRecovery(variant, url, recovery));
      figures[variant][pass - 1]!.recovery = r;
      progress.log(
        `  ${variant} ${pass} recovery: ${recovery.n} asleep after ${r.asleepSeconds!.toFixed(1)} s; relaunched: launched ${r.launchSeconds!.toFixed(1)} s, ` +
          `all running again ${r.allRunningSeconds!.toFixed(1)} s, all finished ${r.allFinishedSeconds!.toFixed(1)} s`,
      );
    }
  }
  // workload 8, once: a capacity test without warm-up, whose DBOS run takes ~25 minutes in full
  for (const system of ['skein', 'dbos'] as const) figures[system][0]!.sleep = await sleepersOf(system, server, progress);
  progress.stop();
  console.log('crash campaign (skein only)...');
  const campaign = await withDatabase(server, 'campaign', (url) => runCampaignChild(url));

  const sleep = { skein: figures.skein[0]!.sleep!, dbos: figures.dbos[0]!.sleep! };
  const writer = (column: 'skein' | 'tuned') => {
    const of = (key: string) => median(figures[column].map((p) => p.concurrent![key]!));
    return `${of('rowsPerFlush').toFixed(1)} rows per flush, ${of('transactionsPerWorkflow').toFixed(3)} transactions per workflow`;
  };
  const markdown = renderResults({
    mode,
    // the URL of an external server may carry a password: the report names the server without it
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).map((a) => a.replace(/postgres(ql)?:\/\/\S*/, 'URL')).join(' ')}` : ''}`,
    machine,
    server: serverFacts,
    versions: `skein ${skeinVersion}, @dbos-inc/dbos-sdk ${dbosVersion}`,
    method: [
      `skein (defaults): \`Skein.launch({ workflows, databaseUrl, queues: [{ name: 'bench', workerConcurrency: 64 }] })\` and nothing else (${defaultsText}). ` +
        `skein tuned: the same plus ${describeTuned()} (bench/settings.ts, TUNED). DBOS: its defaults (its queue polls every second).`,
      (passes > 1
        ? `Each figure: the median of ${passes} alternating passes (skein, DBOS, skein tuned, then again), in brackets the spread (min-max) of the passes' figures; `
        : `Each figure: one pass (skein, DBOS, skein tuned; --passes N for more): no spread, so these figures check the harness and are not figures to quote; `) +
        `each pass of each column a fresh process on a fresh database, measured after an unmeasured warm-up pass at a fifth of the sizes in that process. ` +
        `Rows 8 (no warm-up: a capacity test) and the crash campaign run once, the Postgres ceiling once before the passes.`,
    ],
    rows: benchRows(figures, sizes, sleepers, recovery.n),
    ceiling,
    notes: [
      `Workload 8: skein at its defaults, each system in a fresh process on a database of its own; one pass, no warm-up. ` +
        `Peak RSS is sampled every 250 ms from the first start to the last finish (skein's worker threads live in that process). ` +
        `The drain runs from the first wake-up (first start + ${SLEEP_MS / 1000} s) to the last finish, so it includes the spread ` +
        `of the starts; from the last start's wake-up to the last finish: skein ${sleep.skein.tailSeconds!.toFixed(1)} s, ` +
        `DBOS ${sleep.dbos.tailSeconds!.toFixed(1)} s.`,
      `Workload 10: ${sizes.parked} workflows wait in recv for ${PARKED_WAIT_MS / 1000} s, longer than skein's parkAfterMs, so skein has ` +
        `parked every one (checked): it holds no thread and replays its one recorded step on wake. Then each is sent its message in ` +
        `turn; measured from the send call to the step after recv starting, by the wall clock in that step. DBOS has no parking: its ` +
        `figure is its plain recv wake-up after the same wait.`,
      `Workload 11 (bench/recovery.ts): a process starts ${recovery.n} workflows that record a step and sleep until a common gate ` +
        `time, and is SIGKILLed once every sleep is durable; after the gate, a new process is launched under the same executor ID ` +
        `(skein executorId, DBOS DBOS__VMID) and app version, so it recovers them at launch with all of them due at once. Times are ` +
        `from that process's fork (its boot under tsx included): its launch returning, each workflow's step after the sleep starting ` +
        `(the systems' step records), the last one finishing (polled every 50 ms). skein re-arms the parked workflows and runs them ` +
        `through its slots; DBOS re-enqueues its executor's PENDING workflows on its internal queue, which dispatches them.`,
    ],
    campaign: campaignSection(campaign),
    writer: `skein's writer during workload 1: defaults ${writer('skein')}; tuned ${writer('tuned')} (medians of the passes).`,
  });
  const file = writeReport('RESULTS.md', mode === 'quick', markdown);
  console.log(`\n${markdown}\nwritten to ${file}`);
});

/** Workload 8 for one system, in a fresh process on a fresh database; DBOS capped if it fails at full size. */
async function sleepersOf(system: 'skein' | 'dbos', server: BenchServer, progress: Progress): Promise<Metrics> {
  const once = (n: number, args: string[] = []) =>
    withDatabase(server, `${system}_sleep`, async (databaseUrl) => {
      const run = { script: `${system}-sleepers`, databaseUrl, mode, variant: system, totals: { sleep: n }, label: `${system} 8`, args };
      const metrics = (await runSystem(run, progress)).sleep!;
      return { ...metrics, ...(await countSleeperRows(system, databaseUrl)) };
    });
  try {
    return await once(sleepers);
  } catch (err) {
    if (system !== 'dbos' || mode !== 'full') throw err;
    progress.log(`DBOS failed workload 8 at ${sleepers} workflows; running it at ${DBOS_SLEEPERS_CAP}:\n${err}`);
    return once(DBOS_SLEEPERS_CAP, [String(DBOS_SLEEPERS_CAP)]);
  }
}

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
