// Workflows of the cancellation benchmark (bench/cancel.ts), skein's side, and what both sides
// share: the loop's parameters, and the marks a workflow leaves (its first steps ran; its code
// stopped, and when). skein runs these on worker threads: a mark reaches the main thread through
// a BroadcastChannel (node:worker_threads), which crosses the threads of one process.
import { BroadcastChannel } from 'node:worker_threads';
import { workflow } from '../runtime/index.ts';

/** the BroadcastChannel the marks travel on */
export const CANCEL_CHANNEL = 'skein-bench-cancel';
/** each step: an async wait of this long, heeding no signal */
export const STEP_MS = 5;
/** steps of the loop: far more than a sample lets it run (10,000 x 5 ms is 50 s) */
export const MAX_STEPS = 10_000;
/** the driver cancels once this many steps ran */
export const READY_AFTER = 3;

export type Mark = { id: string; kind: 'ready' } | { id: string; kind: 'stopped'; at: number; error: string };

/** What a step does, the same for both systems: wait STEP_MS, heeding nothing. */
export const wait = () => new Promise<number>((r) => setTimeout(() => r(1), STEP_MS));

/** The name of what ended the workflow's code ('returned' if nothing was thrown). */
export const thrownName = (err: unknown) =>
  err === undefined ? 'returned' : err instanceof Error ? (err.name !== 'Error' ? err.name : err.constructor.name) : String(err);

/**
 * Runs a workflow's body and marks, with `mark`, the moment its code stopped (returned or threw,
 * and what it threw): the same for both systems, so they are measured alike.
 */
export async function markingStop<T>(id: string, mark: (m: Mark) => void, body: () => Promise<T>): Promise<T> {
  let thrown: unknown;
  try {
    return await body();
  } catch (err) {
    thrown = err;
    throw err;
  } finally {
    mark({ id, kind: 'stopped', at: Date.now(), error: thrownName(thrown) });
  }
}

let channel: BroadcastChannel | undefined;
/** Posts a mark to the main thread; the channel is this thread's, unref'd (it never holds a thread open). */
function post(mark: Mark): void {
  if (!channel) {
    channel = new BroadcastChannel(CANCEL_CHANNEL);
    channel.unref();
  }
  channel.postMessage(mark);
}

/** Up to `n` steps of STEP_MS each; cancelled after READY_AFTER of them, it records when its code stopped. */
export const cancelStepLoop = workflow('cancelStepLoop', (ctx, n: number) =>
  markingStop(ctx.workflowId, post, async () => {
    for (let i = 0; i < n; i++) {
      await ctx.step('wait', wait);
      if (i + 1 === READY_AFTER) post({ id: ctx.workflowId, kind: 'ready' });
    }
    return n;
  }),
);

/** READY_AFTER steps, then a durable sleep of `ms`; cancelled in the sleep, it records when its code stopped. */
export const cancelSleep = workflow('cancelSleep', (ctx, ms: number) =>
  markingStop(ctx.workflowId, post, async () => {
    for (let i = 0; i < READY_AFTER; i++) await ctx.step('wait', wait);
    post({ id: ctx.workflowId, kind: 'ready' });
    await ctx.sleep(ms);
    return ms;
  }),
);

/** The receiving side, in the main thread: each workflow's marks as promises, whichever comes first. */
export class Marks {
  #entries = new Map<string, { ready: Deferred<void>; stopped: Deferred<{ at: number; error: string }> }>();

  #entry(id: string) {
    let e = this.#entries.get(id);
    if (!e) this.#entries.set(id, (e = { ready: deferred(), stopped: deferred() }));
    return e;
  }

  mark(m: Mark): void {
    const e = this.#entry(m.id);
    if (m.kind === 'ready') e.ready.resolve();
    else e.stopped.resolve({ at: m.at, error: m.error });
  }

  ready(id: string, timeoutMs = 30_000): Promise<void> {
    return withTimeout(this.#entry(id).ready.promise, timeoutMs, `${id} to run ${READY_AFTER} steps`);
  }

  stopped(id: string, timeoutMs = 30_000): Promise<{ at: number; error: string }> {
    return withTimeout(this.#entry(id).stopped.promise, timeoutMs, `${id} to stop`);
  }

  forget(id: string): void {
    this.#entries.delete(id);
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, expired]).finally(() => clearTimeout(timer));
}

/** What a system's process sends the driver: per scenario, the samples (ms) of its measured run. */
export interface CancelResults {
  type: 'results';
  /** scenario -> stop latencies of the measured samples, ms */
  stop: Record<string, number[]>;
  /** scenario -> how long the cancel call took to return, ms */
  call: Record<string, number[]>;
  /** scenario -> what the workflow's code ended with (error name -> measured samples) */
  errors: Record<string, Record<string, number>>;
  /** anything the process wants said (DBOS's sleep, for one) */
  notes: string[];
}

/** `<system>-cancel.ts <databaseUrl> <warmup> <samples>` */
export function cancelArgs(): { databaseUrl: string; warmup: number; samples: number } {
  const [databaseUrl, warmup, samples] = process.argv.slice(2);
  if (!databaseUrl || !(Number(warmup) >= 0) || !(Number(samples) > 0)) {
    console.error('usage: <system>-cancel.ts <databaseUrl> <warmup> <samples>');
    process.exit(2);
  }
  return { databaseUrl, warmup: Number(warmup), samples: Number(samples) };
}

/** `warmup` unmeasured samples, then `samples` measured ones, one after another. */
export async function sampled(
  warmup: number,
  samples: number,
  one: () => Promise<{ stop: number; call: number; error: string }>,
): Promise<{ stop: number[]; call: number[]; errors: Record<string, number> }> {
  for (let i = 0; i < warmup; i++) await one();
  const stop: number[] = [];
  const call: number[] = [];
  const errors: Record<string, number> = {};
  for (let i = 0; i < samples; i++) {
    const s = await one();
    stop.push(s.stop);
    call.push(s.call);
    errors[s.error] = (errors[s.error] ?? 0) + 1;
  }
  return { stop, call, errors };
}

export function sendResults(r: Omit<CancelResults, 'type'>): void {
  const m: CancelResults = { type: 'results', ...r };
  if (process.send) process.send(m);
  else console.log(JSON.stringify(m));
  process.disconnect?.();
}
