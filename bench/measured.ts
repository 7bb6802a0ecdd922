// A stretch of work measured as the bench measures its workloads: wall time, this process's CPU
// (main and worker threads), and the main thread's event-loop delay, which is what a host service
// sharing the loop (its HTTP server) feels meanwhile.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface Measured {
  seconds: number;
  /** CPU of this process (main and worker threads), user and system */
  cpuSeconds: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

export async function measured(fn: () => Promise<void>): Promise<Measured> {
  const cpu0 = process.cpuUsage();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const t0 = performance.now();
  await fn();
  const seconds = (performance.now() - t0) / 1000;
  loop.disable();
  const cpu = process.cpuUsage(cpu0);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6 };
}
