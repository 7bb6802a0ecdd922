// Cancellation latency, skein side by side with the DBOS Transact TypeScript SDK: from the cancel
// call to the workflow's code stopping. A workflow runs a loop of steps, each an async wait of
// 5 ms that heeds no signal; once 3 steps ran, the driver takes t0 = Date.now() and cancels it;
// the workflow's finally records Date.now() when its code stopped, and the sample is that - t0.
// skein's workflow runs on a worker thread (its finally posts on a BroadcastChannel), DBOS's on
// the main thread (a module-level map). skein also: the cancel made from a Client (NOTIFY), and a
// workflow cancelled in ctx.sleep(60_000) on its thread (parkAfterMs 600_000). DBOS's sleep: one
// sample, to show whether a cancel interrupts it.
// Method: each system in its own process (bench/systems/<system>-cancel.ts), one embedded
// Postgres at default durability with a database each; 3 alternating passes (skein, DBOS, skein,
// DBOS, skein, DBOS), each a fresh process running an unmeasured warm-up then the samples.
// Run: npx tsx bench/cancel.ts [--quick]   (npm run bench:cancel; writes bench/CANCEL.md, or with
// --quick bench/quick/CANCEL.md, git-ignored)
import { resultOfChild } from './fork.ts';
import { availableParallelism } from 'node:os';
import pg from 'pg';
import { resolveConfig } from '../runtime/config.ts';
import { MAX_STEPS, READY_AFTER, STEP_MS, type CancelResults } from './cancel-workflows.ts';
import { machineFacts, writeReport, SYSTEMS, dbosVersion, skeinVersion, type System } from './report.ts';
import { withBenchPostgres } from './server.ts';
import { quantile } from './workloads.ts';

const quick = process.argv.includes('--quick');
const PASSES = 3;
const WARMUP = quick ? 5 : 20;
const SAMPLES = quick ? 20 : 200;
const systems = SYSTEMS;

const defaults = resolveConfig({ workflows: new URL('./cancel-workflows.ts', import.meta.url) });

const parameters =
  `cancel latency (${quick ? 'quick' : 'full'}): cancel call -> the workflow's code stopped (its finally ran); ` +
  `a loop of up to ${MAX_STEPS} steps, each an async wait of ${STEP_MS} ms heeding no signal, cancelled after ${READY_AFTER} steps; ` +
  `${PASSES} alternating passes (skein, DBOS, ...), each a fresh process: ${WARMUP} unmeasured warm-up then ${SAMPLES} samples, ` +
  `one after another, per scenario; skein ${skeinVersion} at its defaults (threads ${defaults.threads}, ` +
  `workflowsPerThread ${defaults.workflowsPerThread}, parkAfterMs ${defaults.parkAfterMs}; the sleep scenario parkAfterMs 600000) ` +
  `vs DBOS SDK ${dbosVersion} at its defaults; ${availableParallelism()} cores, Node ${process.version}`;
console.log(parameters);

/** One pass of one system: its process, its samples. */
function runPass(system: System, databaseUrl: string): Promise<CancelResults> {
  const script = new URL(`./systems/${system}-cancel.ts`, import.meta.url);
  return resultOfChild<CancelResults>(script, [databaseUrl, String(WARMUP), String(SAMPLES)], `${system}-cancel`);
}

/** The table's rows: which system's which scenario, described. */
const SCENARIOS: { system: System; scenario: string; short: string; label: string }[] = [
  { system: 'skein', scenario: 'steps', short: 'skein steps (in process)', label: `skein: skein.cancelWorkflow, in the process running it, during ${STEP_MS} ms steps` },
  { system: 'skein', scenario: 'client', short: 'skein steps (Client)', label: `skein: Client.cancelWorkflow (the executor learns it by NOTIFY), during ${STEP_MS} ms steps` },
  { system: 'dbos', scenario: 'steps', short: 'DBOS steps', label: `DBOS: DBOS.cancelWorkflow, during ${STEP_MS} ms steps` },
  { system: 'skein', scenario: 'sleep', short: 'skein ctx.sleep', label: 'skein: skein.cancelWorkflow during ctx.sleep(60 s) on its thread (parkAfterMs 600000)' },
];

const ms = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

await withBenchPostgres(async (server) => {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const machine = await machineFacts(admin);
  const urls = {} as Record<System, string>;
  for (const system of systems) {
    await admin.query(`CREATE DATABASE bench_cancel_${system}`);
    urls[system] = server.url.replace(/\/postgres$/, `/bench_cancel_${system}`);
  }
  await admin.end();

  const passes: Record<System, CancelResults[]> = { skein: [], dbos: [] };
  for (let pass = 1; pass <= PASSES; pass++) {
    for (const system of systems) {
      const started = Date.now();
      const r = await runPass(system, urls[system]);
      passes[system].push(r);
      const figures = Object.entries(r.stop)
        .map(([name, xs]) => `${name} median ${ms(quantile(xs, 0.5))} ms, p99 ${ms(quantile(xs, 0.99))} ms (n ${xs.length})`)
        .join('; ');
      console.log(`pass ${pass} ${system} (${((Date.now() - started) / 1000).toFixed(0)} s): ${figures}`);
    }
  }

  const passHeads = Array.from({ length: PASSES }, (_, i) => `pass ${i + 1} median / p99`);
  const lines = [
    '## Cancellation latency: skein vs DBOS Transact TypeScript',
    '',
    `Generated by \`npx tsx bench/cancel.ts${quick ? ' --quick' : ''}\` (\`npm run bench:cancel${quick ? ' -- --quick' : ''}\`) ` +
      `on ${new Date().toISOString().slice(0, 10)}. Nothing here is a constant: rerun the command to reproduce.`,
    '',
    `- Machine: ${machine}; other work was running on it.`,
    `- Versions: skein ${skeinVersion}, @dbos-inc/dbos-sdk ${dbosVersion}`,
    `- Parameters: ${parameters.replace(/^cancel latency \([a-z]+\): /, '')}`,
    `- A sample: start the workflow, wait until ${READY_AFTER} steps ran (the workflow says so: skein's through a ` +
      `BroadcastChannel from its worker thread, DBOS's through a module-level map), t0 = Date.now(), ` +
      `await cancelWorkflow(id), then the \`Date.now()\` the workflow's \`finally\` recorded, minus t0 (ms, ` +
      `Date.now() resolution). Each sample also waits for the workflow's result (a cancellation error, checked) ` +
      `before the next starts.`,
    '',
    `| scenario | ${passHeads.join(' | ')} | median of pass medians | spread of pass medians | cancel call returned, median |`,
    `|---|${passHeads.map(() => '---:').join('|')}|---:|---:|---:|`,
  ];
  const summary: string[] = [];
  for (const { system, scenario, label } of SCENARIOS) {
    const runs = passes[system].map((r) => r.stop[scenario]!);
    const medians = runs.map((xs) => quantile(xs, 0.5));
    const calls = passes[system].map((r) => quantile(r.call[scenario]!, 0.5));
    const cells = runs.map((xs) => `${ms(quantile(xs, 0.5))} / ${ms(quantile(xs, 0.99))}`);
    const mid = quantile(medians, 0.5);
    lines.push(
      `| ${label} | ${cells.join(' | ')} | **${ms(mid)}** | ${ms(Math.min(...medians))}-${ms(Math.max(...medians))} | ${ms(quantile(calls, 0.5))} |`,
    );
    summary.push(`  ${label}: median of pass medians ${ms(mid)} ms (pass medians ${medians.map(ms).join(', ')}; p99s ${runs.map((xs) => ms(quantile(xs, 0.99))).join(', ')})`);
  }
  /** per system and scenario, what the code ended with, summed over the passes */
  const endings = () =>
    [...SCENARIOS, { system: 'dbos' as const, scenario: 'sleep', short: 'DBOS DBOS.sleep' }]
      .map(({ system, scenario, short }) => {
        const sum: Record<string, number> = {};
        for (const r of passes[system]) for (const [name, n] of Object.entries(r.errors[scenario]!)) sum[name] = (sum[name] ?? 0) + n;
        return `${short}: ${Object.entries(sum).map(([name, n]) => `${name} ${n}`).join(', ')}`;
      })
      .join('; ');
  const dbosSleeps = passes.dbos.map((r) => r.stop.sleep![0]!);
  lines.push(
    `| DBOS: DBOS.cancelWorkflow during DBOS.sleep | the sleep runs to its end: ${passes.dbos.length} samples (one a pass) of a 3 s sleep cancelled 100 ms into it stopped ${dbosSleeps.join(', ')} ms after the cancel | | | | ${ms(quantile(passes.dbos.map((r) => r.call.sleep![0]!), 0.5))} |`,
    '',
    `What the workflow's code ended with (measured samples, all passes): ${endings()}.`,
    '',
    ...passes.dbos.flatMap((r) => r.notes).map((n) => `- ${n}`),
    '',
    'How each notices a cancel:',
    '',
    "- skein: `cancelWorkflow` commits CANCELLED (the statement NOTIFYs), then tells the process's own dispatcher at once; " +
      'a Client only commits and NOTIFYs, and the executor hears it on its LISTEN connection. The dispatcher posts ' +
      "`cancel` to the workflow's worker thread: its `signal` aborts, pending requests (a sleep, a recv) fail at once, " +
      'and the next ctx call throws WorkflowCancelledError. A step that heeds no signal runs to its end first, so ' +
      `during ${STEP_MS} ms steps the latency includes the rest of the step running.`,
    '- DBOS (@dbos-inc/dbos-sdk/dist/src/system_database.js, dbos-executor.js): `cancelWorkflow` is an UPDATE of the ' +
      'status row (status CANCELLED, owner_xid NULL) and nothing else (no NOTIFY, no in-process signal). A running ' +
      'workflow finds out at its next step boundary, from the database: the step in flight runs to its end, then ' +
      'recording its result checks the owner (`#checkOwner`, SELECT ... FOR NO KEY UPDATE) and throws ' +
      'DBOSWorkflowConflictError into the workflow; a cancel landing between steps is found when the next ' +
      '`DBOS.runStep` starts, which reads the status first (`checkIfCanceled`) and throws DBOSWorkflowCancelledError. ' +
      "Either way the workflow's handle then gives DBOSWorkflowCancelledError. A step's cancel signal (`DBOS.stepStatus.getCancelSignal()`) is served by a poller " +
      'every 1 s (`dbPollingIntervalCancelMs`), only for steps that ask for it. `DBOS.sleep` is a plain timer ' +
      '(`durableSleepms`) that checks for a cancel only after it ends, so a cancel cannot shorten it.',
    '',
  );
  const markdown = lines.join('\n');
  const file = writeReport('CANCEL.md', quick, markdown);
  console.log(`\n${summary.join('\n')}\n\n${markdown}\nwritten to ${file}`);
});
