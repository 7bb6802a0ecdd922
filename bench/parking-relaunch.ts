// The second half of bench/parking.ts b, in a fresh process as after a restart (so its RSS is
// the relaunch's alone): Skein.launch over a backlog of parked sleepers, then a watch that
// nothing is dispatched. Sends its figures to the parent over IPC.
// Run by bench/parking.ts: parking-relaunch.ts <databaseUrl> <executorId> <K>
import pg from 'pg';
import { Skein } from '../runtime/index.ts';

export interface RelaunchFigures {
  launchS: number;
  rearmedS: number;
  rss: number;
  heapUsed: number;
  timers: number;
  watchS: number;
  maxReady: number;
  bootCpuMs: number;
  cpuMs: number;
  checks: number;
  dispatched: number;
  shutdownS: number;
}

/**
 * The threads load tsx and the workflows module first: measured, an idle launch with nothing
 * parked spent 1.7 s of CPU in its first second, then mostly a few ms a second.
 */
const BOOT_MS = 3_000;
/** Longer than the 10 s safety poll, so a sweep over the parked set shows up in the checks. */
const WATCH_MS = 12_000;

const [databaseUrl, executorId, k] = process.argv.slice(2);
const K = Number(k);
if (!databaseUrl || !executorId || !(K > 0)) {
  console.error('usage: parking-relaunch.ts <databaseUrl> <executorId> <K>');
  process.exit(2);
}

// Each dispatch of an existing workflow claims an attempt, so attempts that grew mean it ran.
const db = new pg.Client({ connectionString: databaseUrl });
await db.connect();
const redispatched = async () =>
  Number((await db.query('SELECT count(*) FROM skein.workflow_status WHERE attempts > 1')).rows[0].count);
const before = await redispatched();

let t0 = Date.now();
const skein = await Skein.launch({ workflows: new URL('./workflows.ts', import.meta.url), databaseUrl, executorId });
const launchS = (Date.now() - t0) / 1000;
while (skein.waiterStats().parked < K) {
  if (Date.now() - t0 > 10 * 60_000) throw new Error(`not all re-armed: ${JSON.stringify(skein.waiterStats())}`);
  await new Promise((r) => setTimeout(r, 10));
}
const rearmedS = (Date.now() - t0) / 1000;
const { rss, heapUsed } = process.memoryUsage();

// Watch: nothing should become ready, and once booted the threads should stay idle.
let maxReady = 0;
const watch = async (ms: number) => {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    maxReady = Math.max(maxReady, skein.waiterStats().ready);
  }
};
const cpuAtLaunch = process.cpuUsage();
await watch(BOOT_MS);
const bootCpu = process.cpuUsage(cpuAtLaunch);
const checksAtStart = skein.waiterStats().checks;
const cpuAtStart = process.cpuUsage();
await watch(WATCH_MS);
const cpu = process.cpuUsage(cpuAtStart);
const stats = skein.waiterStats();
const dispatched = (await redispatched()) - before;

t0 = Date.now();
await skein.shutdown();
const shutdownS = (Date.now() - t0) / 1000;
await db.end();

const figures: RelaunchFigures = {
  launchS,
  rearmedS,
  rss,
  heapUsed,
  timers: stats.timers,
  watchS: WATCH_MS / 1000,
  maxReady,
  bootCpuMs: (bootCpu.user + bootCpu.system) / 1000,
  cpuMs: (cpu.user + cpu.system) / 1000,
  checks: stats.checks - checksAtStart,
  dispatched,
  shutdownS,
};
process.send?.(figures);
process.disconnect?.();
