// The benchmark workloads, written once against an adapter that each system implements
// (systems/skein.ts, systems/dbos.ts). Each system runs in its own process, on its own database
// of the same Postgres.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { measured } from './measured.ts';

export interface Handle<T = unknown> {
  result(): Promise<T>;
}

export interface Adapter {
  /** a workflow of three no-op steps */
  startNoop(i: number): Promise<Handle>;
  /** the same, through a queue with workerConcurrency 64 */
  enqueueNoop(i: number): Promise<Handle>;
  /** three steps that each burn `ms` of CPU */
  startCpu(ms: number): Promise<Handle>;
  /** receives `n` pings on topic 'ping' (each the wall time it was sent), acks each with event `ack<i>` */
  startPingPong(n: number): Promise<Handle<number[]> & { id: string }>;
  send(id: string, message: number, topic: string): Promise<void>;
  getEvent(id: string, key: string): Promise<number | null>;
  /** one workflow of `n` steps; returns the wall time each step ran */
  runStepTimes(n: number): Promise<number[]>;
  /** waits on topic 't' (long enough to park, where a system parks), then returns the wall time of a step after */
  startRecvThenStep(): Promise<Handle<number> & { id: string }>;
  /** workflows parked now (skein); checked before workload 10 sends, so its figure is of parked ones */
  parked?(): number;
  /** anything else worth reporting after workload 1 */
  extras?(): Record<string, number>;
}

export interface Sizes {
  concurrent: number;
  /** workload 9: starts arriving BURST_PER_TURN per turn of the event loop */
  burst: number;
  sequential: number;
  queued: number;
  cpu: number;
  cpuMs: number;
  pings: number;
  steps: number;
  /** workload 10: workflows woken one at a time after PARKED_WAIT_MS in recv */
  parked: number;
}

export const SIZES: Record<'full' | 'quick', Sizes> = {
  full: { concurrent: 2000, burst: 20_000, sequential: 2000, queued: 2000, cpu: 100, cpuMs: 20, pings: 500, steps: 300, parked: 200 },
  quick: { concurrent: 500, burst: 5000, sequential: 300, queued: 500, cpu: 40, cpuMs: 20, pings: 100, steps: 100, parked: 50 },
};

/**
 * How long workload 10's workflows wait in recv before their message is sent: longer than
 * skein's default parkAfterMs (1 s), so skein has parked them all (the workload checks it);
 * DBOS, which has no parking, waits as long, so its figure is its plain recv after that wait.
 */
export const PARKED_WAIT_MS = 2000;

export type Metrics = Record<string, number>;
export type Progress = (workload: string, done: number, total: number) => void;

/** Sub-millisecond wall time, comparable across threads (Date.now() counts whole ms). */
export const wallClock = () => performance.timeOrigin + performance.now();

export function quantile(xs: number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function all(handles: Handle[], name: string, progress: Progress): Promise<void> {
  let done = 0;
  await Promise.all(handles.map((h) => h.result().then(() => progress(name, ++done, handles.length))));
}

/**
 * Runs every workload once at a fifth of its size, unmeasured, then again measured, and
 * returns the figures of the second pass. Both systems get the same warm-up: measured within
 * one process, skein's first pass of workload 1 ran at ~1,450 workflows/s and later passes at
 * 2,700 to 3,900 (JIT, connections opened on demand, each preparing its statements once).
 */
export async function runWorkloads(sys: Adapter, s: Sizes, progress: Progress): Promise<Record<string, Metrics>> {
  const fifth = (n: number) => Math.max(1, Math.round(n / 5));
  const warm: Sizes = {
    ...s,
    concurrent: fifth(s.concurrent),
    burst: fifth(s.burst),
    sequential: fifth(s.sequential),
    queued: fifth(s.queued),
    cpu: fifth(s.cpu),
    pings: fifth(s.pings),
    steps: fifth(s.steps),
    parked: fifth(s.parked),
  };
  await runPass(sys, warm, () => {}, -1e9);
  return runPass(sys, s, progress, 0);
}

/** One pass over the workloads; `base` keeps the workflows' inputs of two passes apart. */
async function runPass(sys: Adapter, s: Sizes, progress: Progress, base: number): Promise<Record<string, Metrics>> {
  const out: Record<string, Metrics> = {};

  out.concurrent = await timed(s.concurrent, async () => {
    const concurrent = await Promise.all(Array.from({ length: s.concurrent }, (_, i) => sys.startNoop(base + i)));
    await all(concurrent, 'concurrent', progress);
  });
  Object.assign(out.concurrent, sys.extras?.());

  out.burst = await burst(sys, s.burst, base, progress);

  out.sequential = await timed(s.sequential, async () => {
    const sequential: Handle[] = [];
    for (let i = 0; i < s.sequential; i++) {
      sequential.push(await sys.startNoop(base + i));
      progress('sequential', i + 1, s.sequential);
    }
    await Promise.all(sequential.map((h) => h.result()));
  });

  out.queued = await timed(s.queued, async () => {
    const queued = await Promise.all(Array.from({ length: s.queued }, (_, i) => sys.enqueueNoop(base + i)));
    await all(queued, 'queued', progress);
  });

  out.cpu = await timed(s.cpu, async () => {
    const cpu = await Promise.all(Array.from({ length: s.cpu }, () => sys.startCpu(s.cpuMs)));
    await all(cpu, 'cpu', progress);
  });

  const pong = await sys.startPingPong(s.pings + 1);
  const eventLatencies: number[] = [];
  for (let i = 0; i <= s.pings; i++) {
    await sys.send(pong.id, wallClock(), 'ping');
    const setAt = await sys.getEvent(pong.id, `ack${i}`);
    if (i > 0) eventLatencies.push(wallClock() - setAt!);
    progress('messages', i + 1, s.pings + 1);
  }
  const recvLatencies = (await pong.result()).slice(1); // the first round warmed things up
  out.messages = {
    recvMedianMs: quantile(recvLatencies, 0.5),
    recvP99Ms: quantile(recvLatencies, 0.99),
    eventMedianMs: quantile(eventLatencies, 0.5),
    eventP99Ms: quantile(eventLatencies, 0.99),
  };

  const times = await sys.runStepTimes(s.steps + 1);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  progress('steps', 1, 1);
  out.steps = { stepMedianMs: quantile(gaps, 0.5), stepP99Ms: quantile(gaps, 0.99) };

  out.parked = await parkedWakeUps(sys, s.parked, progress);
  return out;
}

/**
 * Runs `fn`, which completes `n` workflows, while the main thread's event-loop delay is sampled:
 * the delay is what a host service sharing the loop (its HTTP server) feels meanwhile.
 */
async function timed(n: number, fn: () => Promise<void>): Promise<Metrics> {
  const m = await measured(fn);
  return { workflowsPerSecond: n / m.seconds, loopDelayP99Ms: m.loopP99Ms, loopDelayMaxMs: m.loopMaxMs };
}

/**
 * Workload 10: `n` workflows wait in recv for PARKED_WAIT_MS (skein parks them: each then holds
 * no thread and replays its history on wake), then each is sent its message in turn, the next
 * once the previous ran its step. The figure is the time from the send call to the step after
 * recv running, by the wall clock inside the step.
 */
async function parkedWakeUps(sys: Adapter, n: number, progress: Progress): Promise<Metrics> {
  const handles = await Promise.all(Array.from({ length: n }, () => sys.startRecvThenStep()));
  await new Promise((r) => setTimeout(r, PARKED_WAIT_MS));
  const parked = sys.parked?.();
  if (parked !== undefined && parked < n) {
    throw new Error(`workload 10: ${parked} of ${n} workflows parked after ${PARKED_WAIT_MS} ms in recv; raise PARKED_WAIT_MS above parkAfterMs`);
  }
  const latencies: number[] = [];
  for (const [i, h] of handles.entries()) {
    const sentAt = wallClock();
    await sys.send(h.id, i, 't');
    latencies.push((await h.result()) - sentAt);
    progress('parked', i + 1, n);
  }
  return { wakeMedianMs: quantile(latencies, 0.5), wakeP99Ms: quantile(latencies, 0.99) };
}

/** Starts of workload 9 per turn of the event loop. */
const BURST_PER_TURN = 100;

/**
 * Workload 9: a burst as a host service meets one, starts arriving a hundred per turn of the
 * event loop (requests), each awaited by its caller, while the loop's delay is what the
 * service's other work feels. (Started in one synchronous loop instead, the caller's own loop
 * is the stall: 20,000 calls of any API take that long.)
 */
export async function burst(sys: Pick<Adapter, 'startNoop'>, n: number, base: number, progress: Progress): Promise<Metrics> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = performance.now();
  let done = 0;
  const runs: Promise<unknown>[] = [];
  for (let i = 0; i < n; i += BURST_PER_TURN) {
    for (let j = i; j < Math.min(n, i + BURST_PER_TURN); j++) {
      runs.push(sys.startNoop(base + 1e6 + j).then((h) => h.result()).then(() => progress('burst', ++done, n)));
    }
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(runs);
  const seconds = (performance.now() - t0) / 1000;
  loop.disable();
  return { workflowsPerSecond: n / seconds, loopDelayP99Ms: loop.percentile(99) / 1e6, loopDelayMaxMs: loop.max / 1e6 };
}

/** Burns `ms` of CPU on the calling thread. */
export function burn(ms: number): number {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x++;
  return x;
}
