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
