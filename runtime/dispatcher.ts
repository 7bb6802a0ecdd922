// Owns the piscina pool and every running workflow's channel. For each execution it creates a
// MessageChannel, hands one port to the worker with the task, and serves the other: checkpoints
// go to the group-commit writer and are acknowledged only after COMMIT. The bytes it moves are
// never decoded here.
//
// A task whose thread dies (crash, process.exit in a step, out of memory, killThread) is
// rejected by piscina; the worker function itself never throws. The execution then runs again,
// from its recorded steps, as the `redispatch` policy (recovery/) decides.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { isWarmMessage, warmFirstBalancer } from './balancer.ts';
import { encodeError } from '../threads/codec.ts';
import { SkeinError } from '../threads/errors.ts';
import type { Execution, Reply, RunTask, TaskResult, WorkerMessage, WorkerRequest } from '../threads/protocol.ts';

export type { Execution } from '../threads/protocol.ts';

/** How an execution ended here. `STOPPED`: it did not finish in this process. */
export type Completion =
  | { status: 'SUCCESS'; output: Uint8Array; error: null }
  | { status: 'ERROR'; output: null; error: Uint8Array }
  | { status: 'STOPPED'; reason: string };

interface Running {
  /** the channel of the current attempt */
  port?: MessagePort;
  /** aborted when the current attempt ends: its waits (recv, getEvent) are dropped */
  attempt?: AbortController;
  /** the thread of the current attempt, as the worker reported it */
  threadId?: number;
  /** checkpoints sent to the writer and not yet settled */
  inflight: Set<Promise<unknown>>;
  done: Promise<Completion>;
}

export interface DispatcherOptions {
  workflowsModule: string;
  threads: number;
  workflowsPerThread: number;
  resourceLimits?: ResourceLimits;
  /** answers a workflow's request once its effect is durable (runtime/requests.ts) */
  serve: (workflowId: string, req: WorkerRequest, signal: AbortSignal) => Promise<Reply | undefined>;
  /** the next execution after `exec` was interrupted, or null to leave it */
  redispatch: (exec: Execution, closing: () => boolean) => Promise<Execution | null>;
  /** writes the final status; resolves false if the workflow was no longer PENDING */
  finish: (exec: Execution, completion: Completion) => Promise<boolean>;
  onError: (err: unknown) => void;
}

/** Why an attempt's pending waits are dropped; one shared error, not a stack capture each time. */
const EXECUTION_ENDED = new SkeinError('the execution ended');

// Run from source (tsx) the worker is worker.ts; from dist it is worker.js.
const WORKER = new URL(`../threads/worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export class Dispatcher {
  readonly #pool: Piscina<RunTask, TaskResult>;
  readonly #options: DispatcherOptions;
  readonly #running = new Map<string, Running>();
  /** threads that have loaded the workflows module */
  readonly #warm = new Set<number>();
  #closing = false;

  constructor(options: DispatcherOptions) {
    this.#options = options;
    this.#pool = new Piscina({
      filename: WORKER.href,
      minThreads: options.threads,
      maxThreads: options.threads,
      concurrentTasksPerWorker: options.workflowsPerThread,
      // 'sync' (the default) parks idle threads in Atomics.wait, freezing their event loops
      // between tasks, which stalls the timers and port messages of workflows still running.
      atomics: 'disabled',
      // Infinity, piscina's "never": a large finite value overflows Node's 32-bit timer into a
      // 1 ms reaper that tears down idle threads and replaces them cold.
      idleTimeout: Infinity,
      resourceLimits: options.resourceLimits,
      workerData: { workflowsModule: options.workflowsModule },
      loadBalancer: warmFirstBalancer(options.workflowsPerThread, this.#warm),
    });
    this.#pool.on('message', (msg: unknown) => isWarmMessage(msg) && this.#warm.add(msg.threadId));
    this.#pool.on('workerDestroy', (worker: { id: number }) => this.#warm.delete(worker.id));
    // Without a listener, a thread's error event (e.g. a close timeout) crashes the process.
    this.#pool.on('error', options.onError);
  }

  get active(): number {
    return this.#running.size;
  }

  /** Resolves when the execution ends here, after its final status committed. */
  completion(id: string): Promise<Completion> | undefined {
    return this.#running.get(id)?.done;
  }

  /** Runs an execution on a worker thread; a second dispatch of a running ID joins the first. */
  dispatch(exec: Execution): Promise<Completion> {
    const existing = this.#running.get(exec.id);
    if (existing) return existing.done;
    const entry: Running = { inflight: new Set(), done: null! };
    entry.done = this.#execute(exec, entry).finally(() => this.#running.delete(exec.id));
    this.#running.set(exec.id, entry);
    return entry.done;
  }

  /** Ends the thread that runs workflow `id`, as a crash would. */
  async killThread(id: string): Promise<void> {
    const threadId = this.#running.get(id)?.threadId;
    const worker = this.#pool.threads.find((w) => w.threadId === threadId);
    if (threadId === undefined || !worker) {
      throw new SkeinError(`workflow ${id} is not running on a thread of this process`);
    }
    await worker.terminate();
  }

  async #execute(first: Execution, entry: Running): Promise<Completion> {
    let exec: Execution | null = first;
    while (exec) {
      const result = await this.#runOnce(exec, entry);
      if (result.type === 'output' || result.type === 'error') {
        const completion: Completion =
          result.type === 'output'
            ? { status: 'SUCCESS', output: result.bytes, error: null }
            : { status: 'ERROR', output: null, error: result.bytes };
        // Not applied: it was cancelled or dead-lettered meanwhile, and that status stands.
        const applied = await this.#options.finish(exec, completion);
        return applied ? completion : { status: 'STOPPED', reason: 'no longer PENDING' };
      }
      if (!result.retry || this.#closing) return { status: 'STOPPED', reason: result.reason };
      // A checkpoint the dead thread sent may still be committing: the next attempt must see
      // it among the recorded steps, or it would run that step again and lose the race.
      await Promise.allSettled(entry.inflight);
      exec = await this.#options.redispatch(exec, () => this.#closing);
    }
    return { status: 'STOPPED', reason: 'not run again here' };
  }

  /** One attempt on a thread. A dead thread is reported as a stop to retry. */
  async #runOnce(exec: Execution, entry: Running): Promise<TaskResult> {
    const { port1, port2 } = new MessageChannel();
    const attempt = new AbortController();
    entry.port = port1;
    entry.attempt = attempt;
    entry.threadId = undefined;
    port1.on('message', (msg: WorkerMessage) => this.#serve(exec.id, entry, port1, msg));
    const task: RunTask = { ...exec, workflowsModule: this.#options.workflowsModule, port: port2 };
    try {
      return await this.#pool.run(task, { transferList: [port2] });
    } catch (err) {
      return { type: 'stopped', reason: `its thread died: ${err}`, retry: true };
    } finally {
      attempt.abort(EXECUTION_ENDED);
      port1.close();
    }
  }

  #serve(workflowId: string, entry: Running, port: MessagePort, msg: WorkerMessage): void {
    if (msg.type === 'thread') {
      entry.threadId = msg.threadId;
      return;
    }
    const signal = entry.attempt!.signal;
    const served = this.#options.serve(workflowId, msg, signal).then(
      (reply) => port.postMessage({ type: 'reply', id: msg.id, ok: true, ...reply }),
      (err) => {
        if (!signal.aborted) port.postMessage({ type: 'reply', id: msg.id, ok: false, error: encodeError(err) });
      },
    );
    entry.inflight.add(served);
    void served.finally(() => entry.inflight.delete(served));
  }

  /** Waits for running executions up to `timeoutMs`, then ends every thread. */
  async close(timeoutMs: number): Promise<void> {
    const all = Promise.allSettled([...this.#running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.#closing = true;
    await this.#pool.destroy();
    await Promise.allSettled([...this.#running.values()].map((r) => r.done));
  }
}
