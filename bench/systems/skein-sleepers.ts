// skein's side of workload 8 (bench/sleepers.ts), in a process of its own, at skein's DEFAULT
// settings, like the headline column of the other workloads: holding many sleeping workflows is
// what parking is for, and the figures that count are those of a plain launch (threads = cores,
// default workflowsPerThread and parkAfterMs). No queue: this workload uses none. Run once, at
// defaults only (no tuned column): the run is long and parking makes the slots moot here.
import { Skein } from '../../runtime/index.ts';
import { SLEEPERS } from '../sleepers.ts';
import { sleepThenStep } from '../workflows.ts';
import { childArgs, runSleeperChild } from './child.ts';

const { databaseUrl, mode, n } = childArgs();
const skein = await Skein.launch({ workflows: new URL('../workflows.ts', import.meta.url), databaseUrl });

await runSleeperChild({ startSleeper: (ms) => skein.start(sleepThenStep, ms) }, n || SLEEPERS[mode], () => skein.shutdown());
