// Workflows the benchmarks run.
import { workflow } from '../runtime/index.ts';

export const noopSteps = workflow('noopSteps', async (ctx, n: number) => {
  const a = await ctx.step('one', () => n + 1);
  const b = await ctx.step('two', () => a + 1);
  return ctx.step('three', () => b + 1);
});
