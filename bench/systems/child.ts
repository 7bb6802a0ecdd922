// The harness of a system's benchmark process: reads its arguments, reports progress and
// results to the orchestrator (bench/run.ts) over IPC.
import { runWorkloads, SIZES, type Adapter, type Metrics } from '../workloads.ts';

export type ChildMessage =
  | { type: 'progress'; workload: string; done: number; total: number }
  | { type: 'results'; results: Record<string, Metrics> };

export function childArgs(): { databaseUrl: string; mode: 'full' | 'quick' } {
  const [databaseUrl, mode] = process.argv.slice(2);
  if (!databaseUrl || (mode !== 'full' && mode !== 'quick')) {
    console.error('usage: <system>.ts <databaseUrl> full|quick');
    process.exit(2);
  }
  return { databaseUrl, mode };
}

export async function runChild(adapter: Adapter, mode: 'full' | 'quick', close: () => Promise<void>): Promise<void> {
  const send = (m: ChildMessage) => (process.send ? process.send(m) : m.type === 'results' && console.log(JSON.stringify(m.results, null, 2)));
  const results = await runWorkloads(adapter, SIZES[mode], (workload, done, total) =>
    send({ type: 'progress', workload, done, total }),
  );
  await close();
  send({ type: 'results', results });
  process.disconnect?.();
}
