// Child processes of the time tests: each runs test/fixtures/time-child.ts (a Skein on the test
// database, until told to stop or killed), for what must hold across processes: partitions,
// schedules fired elsewhere, static ticks raced by several executors.
import type { ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { ChildMessage } from '../fixtures/time-child.ts';
import { messageFrom, spawnFixture, testDatabase, unique } from './helpers.ts';

export type Ready = Extract<ChildMessage, { kind: 'ready' }>;

export interface TimeChild {
  process: ChildProcess;
  executorId: string;
  /** what it said once launched: its pid, version, and when its launch began and ended */
  ready: Ready;
  /** asks for a graceful shutdown; resolves with the child's clock when it began, once it exited */
  stop(): Promise<number>;
}

/**
 * Starts a child Skein with `module` (a file of test/fixtures) and extra config; resolves once it
 * launched. Killed when the test ends, unless it was stopped.
 */
export async function startChild(
  t: ExecutionContext,
  module: string,
  config: Record<string, unknown> = {},
  executorId = unique('child'),
): Promise<TimeChild> {
  const child = spawnFixture('time-child.ts', [await testDatabase(), executorId, module, JSON.stringify(config)]);
  const exited = once(child, 'exit');
  exited.catch(() => {});
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const ready = await messageFrom<ChildMessage>(child, `'ready' (launched with ${module})`, 120_000);
  if (ready.kind !== 'ready') throw new Error(`the child said ${JSON.stringify(ready)} instead of 'ready'`);
  return {
    process: child,
    executorId,
    ready,
    async stop() {
      const down = messageFrom<ChildMessage>(child, "'down' (shut down)", 60_000);
      child.send('shutdown');
      const said = await down;
      await exited;
      if (said.kind !== 'down') throw new Error(`the child said ${JSON.stringify(said)} instead of 'down'`);
      return said.stopping;
    },
  };
}
