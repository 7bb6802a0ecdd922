// Worker side of the thread's line to main: one MessageChannel per thread, opened as the thread
// starts, over which every run of the thread talks to main, each message tagged with its run's
// number. Before, each run had a MessageChannel of its own, made and transferred by main with its
// task: profiled on this 2-core machine (--cpu-prof, 2,000 concurrent workflows), making and
// transferring one cost main ~0.1 ms, and each reply posted to a thread that had gone idle
// 10-60 us more; main now sends the replies of one turn to a thread as one batch.
//
// What goes to main is posted at once: a checkpoint waits for nothing else on this thread (a
// batch would hold it behind the next workflow's synchronous step code).
//
// Runs arrive on the line too (`start`), in main's batches, and say on it when they end (`end`):
// a piscina task per run cost main ~60 us each (its balancer, TaskInfo, a post of its own and
// the result's; --cpu-prof of 2,000 concurrent workflows, ~150 of main's 1,000 busy ms).
import { MessageChannel, parentPort, threadId, type MessagePort } from 'node:worker_threads';
import type { EndMessage, FromWorker, LineMessage, MainMessage, OnLine, RunTask, ToWorker, WorkerMessage, WorkerResult } from '../common/protocol.ts';

/** What a run's Channel uses of its line: a port that carries only that run's messages. */
export interface RunPort {
  postMessage(msg: WorkerMessage): void;
  on(event: 'message', fn: (msg: MainMessage) => void): void;
  close(): void;
}

let port: MessagePort | null = null;
const runs = new Map<number, (msg: MainMessage) => void>();
let runTask: ((task: RunTask) => Promise<WorkerResult>) | null = null;

/** Opens the line (once per thread) and tells main its port. */
function line(): MessagePort {
  if (port) return port;
  const channel = new MessageChannel();
  port = channel.port1;
  port.on('message', (batch: OnLine<ToWorker>[]) => {
    for (const [run, msg] of batch) {
      if (msg.type === 'start') start(run, msg.task);
      // a run that ended here (closed) has no listener: what main still sent it is dropped
      else runs.get(run)?.(msg);
    }
  });
  // the thread stays alive for piscina, not for this port: it must not hold the thread open
  port.unref();
  parentPort?.postMessage({ type: 'skein:line', threadId, port: channel.port2 } satisfies LineMessage, [channel.port2]);
  return port;
}

/** The port of run `run` on this thread's line. */
export function openRun(run: number): RunPort {
  const p = line();
  return {
    postMessage: (msg) => p.postMessage([run, msg] satisfies OnLine<WorkerMessage>),
    on: (_event, fn) => void runs.set(run, fn),
    close: () => void runs.delete(run),
  };
}

/**
 * Opens the line as the thread starts, so main holds it before it sends the thread anything;
 * `run` runs each task that arrives on it.
 */
export function openLine(run: (task: RunTask) => Promise<WorkerResult>): void {
  runTask = run;
  line();
}

/** Runs a task main sent on the line, and tells main how it ended. */
function start(run: number, task: RunTask): void {
  const end = (msg: EndMessage) => port!.postMessage([run, msg] satisfies OnLine<FromWorker>);
  runTask!(task).then(
    (result) => end({ type: 'end', result: result as EndMessage['result'] }),
    (err: unknown) => end({ type: 'end', error: String((err as Error)?.stack ?? err) }),
  );
}
