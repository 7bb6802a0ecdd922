// Workflows the benchmarks run.
import { workflow } from '../runtime/index.ts';

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

/** Sub-millisecond wall time, comparable across threads (Date.now() counts whole ms). */
export const wallClock = () => performance.timeOrigin + performance.now();

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
