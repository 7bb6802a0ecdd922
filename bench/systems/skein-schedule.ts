// skein's side of the schedule benchmark (bench/schedule.ts), one pass, in a process of its own,
// at skein's defaults: a per-second dynamic schedule of benchTick, created after launch, runs for
// the pass while `inFlight` load workflows keep the threads busy; then the ticks are read.
import pg from 'pg';
import { Skein } from '../../runtime/index.ts';
import { benchLoad, benchTick, createTables, keepLoad, readTicks, scheduleArgs, sendResults, sleep } from '../schedule-workflows.ts';

const args = scheduleArgs();
process.env.BENCH_DATABASE_URL = args.databaseUrl;
const admin = new pg.Client({ connectionString: args.databaseUrl });
await admin.connect();
await createTables(admin);

const skein = await Skein.launch({ workflows: new URL('../schedule-workflows.ts', import.meta.url), databaseUrl: args.databaseUrl });
// the load first, so the first tick already meets it
let stop!: () => void;
const stopped = new Promise<void>((r) => (stop = r));
const load = keepLoad(args.inFlight, (i) => skein.run(benchLoad, i), stopped);
await sleep(1000);
await skein.createSchedule({ id: 'bench', workflow: benchTick, cron: '* * * * * *' });
const t0 = performance.now();
await sleep(args.seconds * 1000);
await skein.deleteSchedule('bench');
stop();
const loaded = await load;
const loadPerSecond = loaded / ((performance.now() - t0) / 1000 + 1);
// ticks fired before the delete finish
await sleep(2000);
await skein.shutdown();
const ticks = await readTicks(admin);
await admin.end();
sendResults({ ...ticks, loadPerSecond });
