// The harness of a system's benchmark process: reads its arguments, reports progress and
// results to the orchestrator (bench/run.ts) over IPC.
import { isVariant, type Variant } from '../settings.ts';
import { runSleepers, type SleepAdapter } from '../sleepers.ts';
import { runWorkloads, SIZES, type Adapter, type Metrics, type Progress } from '../workloads.ts';

export type ChildMessage =
  | { type: 'progress'; workload: string; done: number; total: number }
  | { type: 'results'; results: Record<string, Metrics> };

/**
 * `<system>.ts <databaseUrl> full|quick <variant> [n]`: the variant is a column of the report
 * (bench/settings.ts: skein, dbos, tuned); `n` is the sleepers' count (*-sleepers.ts).
 */
export function childArgs(): { databaseUrl: string; mode: 'full' | 'quick'; variant: Variant; n: number } {
  const [databaseUrl, mode, variant, n] = process.argv.slice(2);
  if (!databaseUrl || (mode !== 'full' && mode !== 'quick') || !isVariant(variant) || (n !== undefined && !(Number(n) > 0))) {
    console.error('usage: <system>.ts <databaseUrl> full|quick skein|dbos|tuned [n]');
    process.exit(2);
  }
  return { databaseUrl, mode, variant, n: Number(n ?? 0) };
}

const send = (m: ChildMessage) =>
  process.send ? process.send(m) : m.type === 'results' && console.log(JSON.stringify(m.results, null, 2));
const progress: Progress = (workload, done, total) => send({ type: 'progress', workload, done, total });

async function report(results: Record<string, Metrics>, close: () => Promise<void>): Promise<void> {
  await close();
  send({ type: 'results', results });
  process.disconnect?.();
}

export async function runChild(adapter: Adapter, mode: 'full' | 'quick', close: () => Promise<void>): Promise<void> {
  await report(await runWorkloads(adapter, SIZES[mode], progress), close);
}

export async function runSleeperChild(adapter: SleepAdapter, n: number, close: () => Promise<void>): Promise<void> {
  await report({ sleep: await runSleepers(adapter, n, progress) }, close);
}
