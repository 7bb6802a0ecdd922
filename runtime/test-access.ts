// What skein/testing reaches inside a Skein without it being public API: each Skein registers
// its handles here when it is made, and the kit looks them up by the Skein it was given.
import { ConfigError } from '../common/errors.ts';
import type { RecordedStep, WorkerResult } from '../common/protocol.ts';
import type { WorkflowRow } from '../storage/workflows.ts';
import type { Clock } from '../common/clock.ts';
import type { QueueConfig } from './config.ts';
import type { Probe } from './probe.ts';

/** A replay of a workflow's history against the code this Skein runs (replayCheck). */
export interface ReplayRun {
  row: WorkflowRow;
  steps: RecordedStep[];
  result: WorkerResult;
}

/** What a child process needs to run a Skein's workflows as it would (everyCrashPoint process). */
export interface ProcessSetup {
  workflowsUrl: string;
  databaseUrl: string;
  schema: string;
  appVersion: string;
  queues: QueueConfig[];
  datasources: Record<string, { url: string | undefined; poolSize: number }>;
  /** it runs on a test clock (skein/testing), this far ahead of the real one */
  testClock: boolean;
  shiftMs: number;
}

export interface TestAccess {
  /** watches workflow `id`'s runs from its next one on; returns the call that ends the watch */
  watch(id: string, probe: Probe): () => void;
  /** replays workflow `id`'s recorded steps on a thread; null when there is no such workflow */
  replay(id: string): Promise<ReplayRun | null>;
  /** the name the workflows module exports this workflow under, if it does */
  knows(name: string): boolean;
  /** what a second process needs to run this Skein's workflows on its database */
  setup(): ProcessSetup;
  /** the clock this Skein measures workflow time on */
  readonly clock: Clock;
}

const granted = new WeakMap<object, TestAccess>();

export function grantTestAccess(skein: object, access: TestAccess): void {
  granted.set(skein, access);
}

export function testAccessOf(skein: unknown, what: string): TestAccess {
  const access = typeof skein === 'object' && skein !== null ? granted.get(skein) : undefined;
  if (!access) throw new ConfigError(`${what}: the first argument must be a Skein (from Skein.launch)`);
  return access;
}
