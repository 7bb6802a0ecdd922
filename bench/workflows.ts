// Workflows the benchmarks run.
import { workflow } from '../runtime/index.ts';
import { burn, wallClock } from './workloads.ts';

export const noopSteps = workflow('noopSteps', async (ctx, n: number) => {
  const a = await ctx.step('one', () => n + 1);
  const b = await ctx.step('two', () => a + 1);
  return ctx.step('three', () => b + 1);
});

/**
 * For recovery latency: the first run of 'victim' drops a marker file and hangs until its
 * thread is killed; the next run returns the time it started, on the thread it landed on.
 */
export const hangOnce = workflow('hangOnce', async (ctx, input: { marker: string }) => {
  await ctx.step('before', () => 1);
  return ctx.step('victim', async () => {
    const { existsSync, writeFileSync } = await import('node:fs');
    if (!existsSync(input.marker)) {
      writeFileSync(input.marker, '');
      await new Promise((r) => setTimeout(r, 60_000));
    }
    return Date.now();
  });
});

export { wallClock } from './workloads.ts';

/**
 * For messaging latency: receives `n` pings, each carrying the time it was sent, and answers
 * each with an event `ack<i>` carrying the time it was set. The latencies are measured with the
 * clock inside the workflow on purpose (a benchmark, not replay-safe code).
 */
export const pingPong = workflow('pingPong', async (ctx, n: number) => {
  const recvLatencies: number[] = [];
  for (let i = 0; i < n; i++) {
    const sentAt = await ctx.recv<number>('ping', { timeoutMs: 60_000 });
    recvLatencies.push(wallClock() - sentAt!);
    await ctx.setEvent(`ack${i}`, wallClock());
  }
  return recvLatencies;
});

/** Returns the wall time at which it started running (for dispatch latency). */
export const stamp = workflow('stamp', async (ctx) => ctx.step('stamp', () => wallClock()));

export const cpuSteps = workflow('cpuSteps', async (ctx, ms: number) => {
  for (let i = 0; i < 3; i++) await ctx.step(`burn-${i}`, () => burn(ms) > 0);
  return true;
});

export const stepTimes = workflow('stepTimes', async (ctx, n: number) => {
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(await ctx.step(`t${i}`, () => wallClock()));
  return times;
});

/**
 * For the sleepers workload and bench/parking.ts: a durable sleep, then one step. A sleep
 * longer than parkAfterMs parks at once, so while it sleeps the workflow holds no thread.
 */
export const sleepThenStep = workflow('sleepThenStep', async (ctx, ms: number) => {
  await ctx.sleep(ms);
  return ctx.step('after', () => wallClock());
});

/**
 * For bench/parking.ts: `steps` recorded steps, then a wait on topic 't'; returns the wall time
 * right after recv returned. A parked one replays its `steps` steps on wake before recv returns.
 */
export const stepsThenRecv = workflow('stepsThenRecv', async (ctx, steps: number) => {
  for (let i = 0; i < steps; i++) await ctx.step(`s${i}`, () => i);
  await ctx.recv<number>('t', { timeoutMs: 600_000 });
  return wallClock();
});

/**
 * For workload 10 (parked wake-up): a wait on topic 't', then a step returning the wall time it
 * ran, which the bench compares with the time of the send.
 */
export const recvThenStep = workflow('recvThenStep', async (ctx) => {
  await ctx.recv<number>('t', { timeoutMs: 600_000 });
  return ctx.step('after', () => wallClock());
});

/**
 * For the recovery row (bench/recovery.ts): a step that says how long until `gateAt` (recorded,
 * so a replay sleeps the same), a durable sleep that long, then the step 'resumed', whose start
 * the bench reads from the steps table. Every workflow of a run wakes at the same `gateAt`, and
 * the process is killed before it and relaunched after it: every one is due at the relaunch.
 */
export const sleepToGate = workflow('sleepToGate', async (ctx, gateAt: number) => {
  const ms = await ctx.step('plan', () => Math.max(0, gateAt - Date.now()));
  await ctx.sleep(ms);
  return ctx.step('resumed', () => wallClock());
});
