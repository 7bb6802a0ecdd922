// The rows of bench/RESULTS.md's table: which workload's metric each is, in what unit, and the
// goal of issue 20 ("Performance II") it is judged against, where there is one. The Postgres
// ceiling, row 7, is not a comparison and is rendered apart (report.ts).
import { perPass, type Figures } from './figures.ts';
import { SLEEP_MS } from './sleepers.ts';
import { PARKED_WAIT_MS, type Sizes } from './workloads.ts';

export interface Row {
  n: number;
  workload: string;
  unit: string;
  higherIsBetter: boolean;
  /** each column's figures, one per pass; empty where the column did not measure it */
  skein: number[];
  dbos: number[];
  tuned: number[];
  /** issue 20's goal for skein at its defaults: an advantage over DBOS, or a bound on its own figure */
  target?: { advantage: number } | { below: number };
}

/** the main thread's event loop, in every workload: issue 20's bounds */
const LOOP_P99 = { below: 10 };
const LOOP_MAX = { below: 50 };

export function benchRows(f: Figures, s: Sizes, sleepers: number, recovered: number): Row[] {
  const row = (
    n: number,
    workload: string,
    unit: string,
    [w, key]: [string, string],
    higherIsBetter: boolean,
    target?: Row['target'],
  ): Row => ({
    n,
    workload,
    unit,
    higherIsBetter,
    target,
    skein: perPass(f.skein, w, key),
    dbos: perPass(f.dbos, w, key),
    tuned: perPass(f.tuned, w, key),
  });
  const rate = 'workflows/s';
  const loopRows = (n: number, w: string) => [
    row(n, `main-thread event-loop delay during ${n}, p99`, 'ms', [w, 'loopDelayP99Ms'], false, LOOP_P99),
    row(n, `main-thread event-loop delay during ${n}, max`, 'ms', [w, 'loopDelayMaxMs'], false, LOOP_MAX),
  ];
  const dbosSleepers = f.dbos[0]?.sleep?.n;
  const capped = dbosSleepers !== undefined && dbosSleepers !== sleepers ? ` (DBOS: ${dbosSleepers} workflows, it failed at ${sleepers})` : '';
  return [
    row(1, `${s.concurrent} workflows of 3 no-op steps, started concurrently`, rate, ['concurrent', 'workflowsPerSecond'], true, { advantage: 10 }),
    ...loopRows(1, 'concurrent'),
    row(2, `the same, ${s.sequential} starts each awaited in turn`, rate, ['sequential', 'workflowsPerSecond'], true, { advantage: 3 }),
    ...loopRows(2, 'sequential'),
    row(3, `${s.queued} enqueued on a queue with workerConcurrency 64`, rate, ['queued', 'workflowsPerSecond'], true, { advantage: 25 }),
    ...loopRows(3, 'queued'),
    row(4, `${s.cpu} CPU-heavy workflows (3 steps x ${s.cpuMs} ms of CPU)`, rate, ['cpu', 'workflowsPerSecond'], true, { advantage: 2 }),
    ...loopRows(4, 'cpu'),
    row(5, `send -> recv wake-up, median of ${s.pings}`, 'ms', ['messages', 'recvMedianMs'], false),
    row(5, 'send -> recv wake-up, p99', 'ms', ['messages', 'recvP99Ms'], false, { advantage: 1 }),
    row(5, 'setEvent -> getEvent wake-up, median', 'ms', ['messages', 'eventMedianMs'], false),
    row(6, `step checkpoint latency, one workflow alone, median of ${s.steps}`, 'ms', ['steps', 'stepMedianMs'], false, { advantage: 1 }),
    row(8, `${sleepers} workflows that sleep ${SLEEP_MS / 1000} s then run one step: time to start them all${capped}`, 's', ['sleep', 'startSeconds'], false),
    row(8, `peak RSS of the process during 8, first start to last finish${capped}`, 'MiB', ['sleep', 'peakRssMb'], false),
    row(8, `drain during 8, first wake-up to last finish${capped}`, 's', ['sleep', 'drainSeconds'], false),
    row(8, `rows in the workflow status table after 8${capped}`, 'rows', ['sleep', 'statusRows'], false),
    row(8, `rows in the steps table after 8${capped}`, 'rows', ['sleep', 'stepRows'], false),
    row(8, `size on disk of those two tables after 8${capped}`, 'MiB', ['sleep', 'tablesMb'], false),
    row(9, `${s.burst} starts arriving 100 per event-loop turn, each awaited: throughput`, rate, ['burst', 'workflowsPerSecond'], true),
    ...loopRows(9, 'burst'),
    row(10, `a workflow ${PARKED_WAIT_MS / 1000} s in recv (skein: parked) sent its message: send -> the step after recv, median of ${s.parked}`, 'ms', ['parked', 'wakeMedianMs'], false),
    row(10, 'the same, p99', 'ms', ['parked', 'wakeP99Ms'], false),
    row(11, `${recovered} workflows started at once, until every one sleeps durably (before the SIGKILL)`, 's', ['recovery', 'asleepSeconds'], false),
    row(11, 'SIGKILL, relaunch under the same executor ID, all due: relaunched process launched', 's', ['recovery', 'launchSeconds'], false),
    row(11, 'the same: half of them running again (their step after the sleep started)', 's', ['recovery', 'medianRunningSeconds'], false),
    row(11, 'the same: all of them running again', 's', ['recovery', 'allRunningSeconds'], false),
    row(11, 'the same: all of them finished', 's', ['recovery', 'allFinishedSeconds'], false),
  ];
}
