// Worker side of a workflow's run: numbered requests to main, matched to their replies, over the
// thread's line (threads/line.ts).
import { threadId } from 'node:worker_threads';
import { decodeError } from '../common/codec.ts';
import type { CancelReason } from '../common/errors.ts';
import type { RunPort } from './line.ts';
import type { MainMessage, ProbeBegan, ProbeRan, Reply, SlotMessage, StepDeadlineMessage, WorkerMessage, WorkerRequest } from '../common/protocol.ts';

/** A request without its id (the channel numbers it). */
export type RequestBody = WorkerRequest extends infer M ? (M extends WorkerRequest ? Omit<M, 'id'> : never) : never;

export class Channel {
  #port: RunPort;
  #nextId = 1;
  #pending = new Map<number, { resolve: (reply: Reply) => void; reject: (err: unknown) => void }>();

  constructor(port: RunPort, on: { cancel(reason: CancelReason): void; park(): void }) {
    this.#port = port;
    port.on('message', (msg: MainMessage) => {
      switch (msg.type) {
        case 'reply': {
          const waiter = this.#pending.get(msg.id);
          if (!waiter) return;
          this.#pending.delete(msg.id);
          if (msg.ok) waiter.resolve({ value: msg.value, thrown: msg.thrown });
          else waiter.reject(decodeError(msg.error));
          return;
        }
        case 'cancel':
          on.cancel(msg.reason);
          return;
        case 'park':
          on.park();
          return;
        default: {
          const never: never = msg;
          throw new Error(`unknown message from main: ${JSON.stringify(never)}`);
        }
      }
    });
    port.postMessage({ type: 'thread', threadId } satisfies WorkerMessage);
  }

  /** Sends a request; resolves with the reply's payloads once main made it durable. */
  request(body: RequestBody | Omit<ProbeRan, 'id'>): Promise<Reply> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#port.postMessage({ ...body, id } as WorkerMessage);
    });
  }

  /** A message that needs no reply (slot bookkeeping, a step's deadline). */
  post(msg: SlotMessage | StepDeadlineMessage | ProbeBegan): void {
    this.#port.postMessage(msg satisfies WorkerMessage);
  }

  /**
   * Rejects every request still awaiting its reply (the workflow was cancelled: a sleep or a
   * recv must not hold it). A reply that arrives later is dropped; what it recorded stays
   * recorded, and a resumed run replays it.
   */
  failPending(err: unknown): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }

  /** Pending requests are dropped unsettled: after a park, nothing of the workflow may run. */
  close(): void {
    this.#pending.clear();
    this.#port.close();
  }
}
