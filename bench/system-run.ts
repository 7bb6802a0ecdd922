// One process of `npm run bench` (bench/systems/<script>.ts): forked with its database, mode and
// column, its progress drawn as it reports it, its figures returned when it ends.
import { fork } from 'node:child_process';
import type { Progress } from './progress.ts';
import type { Variant } from './settings.ts';
import type { ChildMessage } from './systems/child.ts';
import type { Metrics } from './workloads.ts';

export interface SystemRun {
  /** `systems/<script>.ts` */
  script: string;
  databaseUrl: string;
  mode: 'full' | 'quick';
  variant: Variant;
  /** units of progress per workload, in the order the process runs them */
  totals: Record<string, number>;
  /** the progress line's label */
  label: string;
  args?: string[];
}

export function runSystem(r: SystemRun, progress: Progress): Promise<Record<string, Metrics>> {
  const grandTotal = Object.values(r.totals).reduce((a, b) => a + b, 0);
  const run = progress.start(r.label, grandTotal);
  const offsets: Record<string, number> = {};
  let offset = 0;
  for (const [name, total] of Object.entries(r.totals)) {
    offsets[name] = offset;
    offset += total;
  }
  return new Promise((resolve, reject) => {
    const child = fork(new URL(`./systems/${r.script}.ts`, import.meta.url), [r.databaseUrl, r.mode, r.variant, ...(r.args ?? [])], {
      execArgv: ['--import=tsx'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-6000)));
    let results: Record<string, Metrics> | undefined;
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'progress') run.update((offsets[m.workload] ?? 0) + m.done, m.workload);
      else results = m.results;
    });
    child.on('exit', (code, signal) => {
      run.end(results !== undefined);
      if (results) resolve(results);
      else reject(new Error(`${r.script} benchmark (${r.label}) exited with ${code ?? signal}:\n${stderr.slice(-3000)}`));
    });
  });
}
