// Owns the piscina pool and every running workflow's channel. For each execution it creates a
// MessageChannel, hands one port to the worker with the task, and serves the other: checkpoints
// go to the group-commit writer and are acknowledged only after COMMIT. The bytes it moves are
// never decoded here.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, type ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { GroupCommitWriter } from '../storage/writer.ts';
import { encodeError } from '../threads/codec.ts';
import type { RecordedStep, RunTask, TaskResult, WorkerMessage } from '../threads/protocol.ts';

export interface Execution {
  id: string;
  name: string;
  input: Uint8Array;
  attempt: number;
  steps: RecordedStep[];
}

/** How an execution ended here. `stopped`: it did not finish in this process. */
export type Completion =
  | { status: 'SUCCESS'; output: Uint8Array; error: null }
  | { status: 'ERROR'; output: null; error: Uint8Array }
  | { status: 'STOPPED'; reason: string };

interface Running {
  port: MessagePort;
  threadId?: number;
  done: Promise<Completion>;
}

export interface DispatcherOptions {
  workflowsModule: string;
  threads: number;
  workflowsPerThread: number;
  resourceLimits?: ResourceLimits;
  writer: GroupCommitWriter;
  onError: (err: unknown) => void;
}

// Run from source (tsx) the worker is worker.ts; from dist it is worker.js.
const WORKER = new URL(`../threads/worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export class Dispatcher {
  readonly #pool: Piscina<RunTask, TaskResult>;
  readonly #options: DispatcherOptions;
  readonly #running = new Map<string, Running>();

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
      idleTimeout: Number.MAX_SAFE_INTEGER,
      resourceLimits: options.resourceLimits,
    });
    // Without a listener, a thread's error event (e.g. a close timeout) crashes the process.
    this.#pool.on('error', options.onError);
  }

  get active(): number {
    return this.#running.size;
  }

  isRunning(id: string): boolean {
    return this.#running.has(id);
  }

  /** Resolves when the execution ends here, after its final status committed. */
  completion(id: string): Promise<Completion> | undefined {
    return this.#running.get(id)?.done;
  }

  /** Runs one execution on a worker thread; a second dispatch of a running ID joins the first. */
  dispatch(exec: Execution): Promise<Completion> {
    const existing = this.#running.get(exec.id);
    if (existing) return existing.done;
    const { port1, port2 } = new MessageChannel();
    const entry = { port: port1 } as Running;
    port1.on('message', (msg: WorkerMessage) => this.#serve(exec.id, entry, msg));
    const task: RunTask = {
      workflowsModule: this.#options.workflowsModule,
      workflowId: exec.id,
      name: exec.name,
      input: exec.input,
      steps: exec.steps,
      attempt: exec.attempt,
      port: port2,
    };
    entry.done = this.#pool
      .run(task, { transferList: [port2] })
      .then((result) => this.#finish(exec.id, result))
      .catch((err) => ({ status: 'STOPPED', reason: String(err) }) as Completion)
      .finally(() => {
        port1.close();
        this.#running.delete(exec.id);
      });
    this.#running.set(exec.id, entry);
    return entry.done;
  }

  #serve(workflowId: string, entry: Running, msg: WorkerMessage): void {
    switch (msg.type) {
      case 'thread':
        entry.threadId = msg.threadId;
        return;
      case 'checkpoint': {
        const row = {
          workflowId,
          stepId: msg.stepId,
          name: msg.name,
          output: msg.output,
          error: msg.error,
          childWorkflowId: null,
          startedAt: msg.startedAt,
        };
        this.#options.writer.write([{ kind: 'recordStep', row }]).then(
          () => entry.port.postMessage({ type: 'reply', id: msg.id, ok: true }),
          (err) =>
            entry.port.postMessage({ type: 'reply', id: msg.id, ok: false, error: encodeError(err) }),
        );
        return;
      }
      default: {
        const never: never = msg;
        this.#options.onError(new Error(`unknown message from a worker: ${JSON.stringify(never)}`));
      }
    }
  }

  async #finish(id: string, result: TaskResult): Promise<Completion> {
    if (result.type === 'stopped') return { status: 'STOPPED', reason: result.reason };
    const completion: Completion =
      result.type === 'output'
        ? { status: 'SUCCESS', output: result.bytes, error: null }
        : { status: 'ERROR', output: null, error: result.bytes };
    const [applied] = await this.#options.writer.write([
      { kind: 'finishWorkflow', row: { id, ...completion } },
    ]);
    // Not applied: it was cancelled or dead-lettered meanwhile, and that status stands.
    return applied ? completion : { status: 'STOPPED', reason: 'no longer PENDING' };
  }

  /** Waits for running executions up to `timeoutMs`, then ends every thread. */
  async close(timeoutMs: number): Promise<void> {
    const all = Promise.allSettled([...this.#running.values()].map((r) => r.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    await this.#pool.destroy();
  }
}
