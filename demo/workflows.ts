// The demo's workflows: CPU-heavy steps, the kind of work that would stall a service's main
// event loop if it ran there.
import { createHash } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { workflow } from '../runtime/index.ts';

/** Hashes `rounds` times: about 1 ms of CPU per 2,000 rounds on a current core. */
function burn(seed: string, rounds: number): string {
  let digest = seed;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
  return digest;
}

export const render = workflow('render', async (ctx, job: { id: number; rounds: number }) => {
  const layout = await ctx.step('layout', () => ({ digest: burn(`layout-${job.id}`, job.rounds), threadId }));
  const raster = await ctx.step('raster', () => burn(layout.digest, job.rounds));
  const encoded = await ctx.step('encode', () => burn(raster, job.rounds).slice(0, 12));
  return { id: job.id, encoded, threadId: layout.threadId };
});
