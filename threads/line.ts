// Worker side of the thread's line to main: one MessageChannel per thread, opened as the thread
// starts, over which every run of the thread talks to main, each message tagged with its run's
// number. Before, each run had a MessageChannel of its own, made and transferred by main with its
// task: profiled on this 2-core machine (--cpu-prof, 2,000 concurrent workflows), making and
// transferring one cost main ~0.1 ms, and each reply posted to a thread that had gone idle
// 10-60 us more; main now sends the replies of one turn to a thread as one batch.
//
// What goes to main is posted at once: a checkpoint waits for nothing else on this thread (a
// batch would hold it behind the next workflow's synchronous step code).
import { MessageChannel, parentPort, threadId, type MessagePort } from 'node:worker_threads';
import type { LineMessage, MainMessage, OnLine, WorkerMessage } from '../common/protocol.ts';

/** What a run's Channel uses of its line: a port that carries only that run's messages. */
export interface RunPort {
  postMessage(msg: WorkerMessage): void;
  on(event: 'message', fn: (msg: MainMessage) => void): void;
  close(): void;
}

let port: MessagePort | null = null;
const runs = new Map<number, (msg: MainMessage) => void>();

/** Opens the line (once per thread) and tells main its port. */
function line(): MessagePort {
  if (port) return port;
  const channel = new MessageChannel();
  port = channel.port1;
  port.on('message', (batch: OnLine<MainMessage>[]) => {
    // a run that ended here (closed) has no listener: what main still sent it is dropped
    for (const [run, msg] of batch) runs.get(run)?.(msg);
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

/** Called as the thread starts, so main holds the line before the thread's first task. */
export function openLine(): void {
  line();
}
