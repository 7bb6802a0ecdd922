// Rounds of workload 1's shape in one process, for the profiling harnesses (bench/cpu-share.ts,
// bench/flush-rounds.ts): a round starts n 3-step no-op workflows at once and awaits them all.
import type { Skein } from '../runtime/index.ts';
import { noopSteps } from './workflows.ts';

/** A function running one round of `n`, each round's workflows with inputs of their own. */
export function noopRounds(skein: Skein): (n: number) => Promise<void> {
  let input = 0;
  return async (n) => {
    const handles = await Promise.all(Array.from({ length: n }, () => skein.start(noopSteps, input++)));
    await Promise.all(handles.map((h) => h.result()));
  };
}
