// The DBOS Transact TypeScript SDK's side of the schedule benchmark (bench/schedule.ts), one
// pass, in a process of its own (DBOS is a process-wide singleton), at DBOS's defaults: a
// per-second schedule made with DBOS.createSchedule (its dynamic schedules; a tick is enqueued
// on DBOS's internal queue), the same tick record and the same load as skein's side. DBOS runs
// workflows, and so the load's CPU-bound steps, on this (the main) thread.
import { DBOS } from '@dbos-inc/dbos-sdk';
import pg from 'pg';
import { burn } from '../workloads.ts';
import { createTables, keepLoad, LOAD_STEP_MS, LOAD_STEPS, readTicks, recordTick, scheduleArgs, sendResults, sleep } from '../schedule-workflows.ts';

const args = scheduleArgs();
const admin = new pg.Client({ connectionString: args.databaseUrl });
await admin.connect();
await createTables(admin);

const benchTick = DBOS.registerWorkflow(
  async (tick: Date, _context: unknown): Promise<void> => {
    const lateMs = Date.now() - tick.getTime();
    await DBOS.runStep(() => recordTick(args.databaseUrl, tick, lateMs), { name: 'record' });
  },
  { name: 'benchTick' },
);
const benchLoad = DBOS.registerWorkflow(
  async (i: number): Promise<number> => {
    for (let s = 0; s < LOAD_STEPS; s++) await DBOS.runStep(async () => burn(LOAD_STEP_MS), { name: `burn${s}` });
    return i;
  },
  { name: 'benchLoad' },
);

DBOS.setConfig({ name: 'skein-bench-schedule', systemDatabaseUrl: args.databaseUrl, logLevel: 'error' });
await DBOS.launch();
let stop!: () => void;
const stopped = new Promise<void>((r) => (stop = r));
const load = keepLoad(args.inFlight, async (i) => (await DBOS.startWorkflow(benchLoad)(i)).getResult(), stopped);
await sleep(1000);
await DBOS.createSchedule({ scheduleName: 'bench', workflowFn: benchTick, schedule: '* * * * * *' });
const t0 = performance.now();
await sleep(args.seconds * 1000);
await DBOS.deleteSchedule('bench');
stop();
const loaded = await load;
const loadPerSecond = loaded / ((performance.now() - t0) / 1000 + 1);
await sleep(2000);
await DBOS.shutdown();
const ticks = await readTicks(admin);
await admin.end();
sendResults({ ...ticks, loadPerSecond });
