// Plays the main thread for one workflow Context, with no database and no worker thread: the
// Context and its Channel run in the test's own thread, on one port of a real MessageChannel,
// and the other port is answered from memory the way runtime/requests.ts and
// runtime/dispatcher.ts would answer it. What main would write to Postgres goes to `recorded`
// (a RecordedStep list, as a recovery hands it back), so a second fakeMain({ recorded }) replays
// the first one's execution.
//
// Simplifications: a recv or getEvent with nothing to return is answered at once with the
// timeout answer (an encoded null, recorded like a real expiry) instead of waiting for its
// deadline; sleeps and retry back-offs are answered at once; child workflows are not served
// (their requests are refused, which stops the execution).
import { MessageChannel } from 'node:worker_threads';
import { encodeError, encodeValue, type ErrorClasses } from '../../common/codec.ts';
import { ConflictError, SkeinError, type CancelReason } from '../../common/errors.ts';
import {
  isWait,
  STEP,
  type CheckpointMessage,
  type MainMessage,
  type RecordedStep,
  type Reply,
  type SlotMessage,
  type StepDeadlineMessage,
  type WorkerMessage,
  type WorkerRequest,
} from '../../common/protocol.ts';
import { Channel } from '../../threads/channel.ts';
import { Context } from '../../threads/context.ts';

export interface FakeMainOptions {
  workflowId?: string;
  /** the steps a recovery would hand the execution (replayed instead of run) */
  recorded?: readonly RecordedStep[];
  /** this workflow's inbox, by topic ('' for messages sent without one), oldest first */
  messages?: Record<string, unknown[]>;
  /** other workflows' events: events[workflowId][key] */
  events?: Record<string, Record<string, unknown>>;
  /** user error classes, as the worker finds them in the workflows module */
  errorClasses?: ErrorClasses;
  /** awaited before main serves `req`: return a promise to hold its reply back */
  beforeReply?: (req: WorkerRequest) => void | Promise<void>;
  /** an error to refuse `req` with (a reply with ok: false); nothing is recorded then */
  fail?: (req: WorkerRequest) => unknown;
  /** attempts used by steps whose thread main ended at their timeout (protocol Execution) */
  stepAttempts?: Record<number, number>;
}

export interface SentMessage {
  destinationId: string;
  topic: string;
  message: Uint8Array;
}

export type RequestOf<T extends WorkerRequest['type']> = Extract<WorkerRequest, { type: T }>;

export interface FakeMain {
  ctx: Context;
  /** every request, in the order main received them */
  readonly requests: WorkerRequest[];
  /** the checkpoint requests among them (refused ones too) */
  readonly checkpoints: CheckpointMessage[];
  /** every step main recorded (checkpoints, sends, event writes, recv and getEvent results) */
  readonly recorded: RecordedStep[];
  /** slot messages received ('suspend' / 'resume'), in order */
  readonly slots: SlotMessage['type'][];
  /** stepDeadline messages (steps with a timeout) */
  readonly stepDeadlines: StepDeadlineMessage[];
  /** messages the workflow sent */
  readonly sent: SentMessage[];
  /** the threadId the channel announced, once it did */
  readonly threadId: number | undefined;
  /** puts a message in this workflow's inbox (read by the next recv that main serves) */
  deliver(topic: string, value: unknown): void;
  /** sets another workflow's event (read by the next getEvent that main serves) */
  setEvent(workflowId: string, key: string, value: unknown): void;
  /** resolves with the first request of this type received so far or later */
  received<T extends WorkerRequest['type']>(type: T): Promise<RequestOf<T>>;
  /** main cancels the workflow */
  cancel(reason?: CancelReason): void;
  /** main parks the execution (worker.ts calls ctx.park() and closes the channel) */
  park(): void;
  close(): void;
}

/** A recorded step as the real recorder writes it: the value encoded with encodeValue. */
export function recordedValue(stepId: number, name: string, value: unknown): RecordedStep {
  return { stepId, name, output: encodeValue(value), error: null, childWorkflowId: null };
}

/** A recorded step that threw. */
export function recordedError(stepId: number, name: string, err: unknown): RecordedStep {
  return { stepId, name, output: null, error: encodeError(err), childWorkflowId: null };
}

/** What a recv or getEvent that timed out returns and records (runtime/requests.ts). */
const NULL_VALUE = encodeValue(null);

export function fakeMain(opts: FakeMainOptions = {}): FakeMain {
  const workflowId = opts.workflowId ?? 'wf-1';
  const { port1: mainPort, port2: workerPort } = new MessageChannel();
  const requests: WorkerRequest[] = [];
  const checkpoints: CheckpointMessage[] = [];
  const recorded: RecordedStep[] = (opts.recorded ?? []).map((s) => ({ ...s }));
  const slots: SlotMessage['type'][] = [];
  const stepDeadlines: StepDeadlineMessage[] = [];
  const sent: SentMessage[] = [];
  const inbox = new Map<string, Uint8Array[]>(
    Object.entries(opts.messages ?? {}).map(([topic, values]) => [topic, values.map((v) => encodeValue(v))]),
  );
  const events = new Map<string, Uint8Array>();
  const eventKey = (wf: string, key: string) => JSON.stringify([wf, key]);
  for (const [wf, byKey] of Object.entries(opts.events ?? {})) {
    for (const [key, value] of Object.entries(byKey)) events.set(eventKey(wf, key), encodeValue(value));
  }
  const watchers: { type: WorkerRequest['type']; resolve: (req: WorkerRequest) => void }[] = [];
  let threadId: number | undefined;
  let closed = false;

  const post = (msg: MainMessage) => {
    if (!closed) mainPort.postMessage(msg);
  };

  /** Records a step as the writer would: a step id recorded already is a lost step. */
  const record = (stepId: number, name: string, output: Uint8Array | null, error: Uint8Array | null = null) => {
    if (recorded.some((s) => s.stepId === stepId)) {
      throw new ConflictError(`workflow ${workflowId}: step ${stepId} was recorded already`);
    }
    recorded.push({ stepId, name, output, error, childWorkflowId: null });
  };

  const serve = (req: WorkerRequest): Reply => {
    switch (req.type) {
      case 'checkpoint':
        record(req.stepId, req.name, req.output, req.error);
        return {};
      case 'send':
        record(req.stepId, STEP.send, null);
        sent.push({ destinationId: req.destinationId, topic: req.topic, message: req.message });
        return {};
      case 'setEvent':
        record(req.stepId, STEP.setEvent, null);
        events.set(eventKey(workflowId, req.key), req.value);
        return {};
      case 'recv': {
        // a message is consumed and recorded in one statement; none: the expiry records null
        const value = inbox.get(req.topic)?.shift() ?? NULL_VALUE;
        record(req.stepId, STEP.recv, value);
        return { value };
      }
      case 'getEvent': {
        const value = events.get(eventKey(req.workflowId, req.key)) ?? NULL_VALUE;
        record(req.stepId, STEP.getEvent, value);
        return { value };
      }
      case 'sleep':
      case 'backoff':
        return {};
      case 'startChild':
      case 'childStatus':
      case 'childResult':
        throw new SkeinError(`the fake main does not serve ${req.type}`);
      default: {
        const never: never = req;
        throw new Error(`unknown request: ${JSON.stringify(never)}`);
      }
    }
  };

  const answer = async (req: WorkerRequest) => {
    await opts.beforeReply?.(req);
    const refusal = opts.fail?.(req);
    let msg: MainMessage;
    if (refusal !== undefined) {
      msg = { type: 'reply', id: req.id, ok: false, error: encodeError(refusal) };
    } else {
      try {
        msg = { type: 'reply', id: req.id, ok: true, ...serve(req) };
      } catch (err) {
        msg = { type: 'reply', id: req.id, ok: false, error: encodeError(err) };
      }
    }
    post(msg);
  };

  mainPort.on('message', (msg: WorkerMessage) => {
    switch (msg.type) {
      case 'thread':
        threadId = msg.threadId;
        return;
      case 'suspend':
      case 'resume':
        slots.push(msg.type);
        return;
      case 'stepDeadline':
        stepDeadlines.push(msg);
        return;
      case 'probeBegan':
      case 'probeRan':
        return; // no test watches a run here
      default: {
        requests.push(msg);
        if (msg.type === 'checkpoint') checkpoints.push(msg);
        for (let i = watchers.length - 1; i >= 0; i--) {
          if (watchers[i]!.type === msg.type) watchers.splice(i, 1)[0]!.resolve(msg);
        }
        // a wait must carry its slot flag (common/protocol.ts, WaitFields)
        if (isWait(msg) && typeof msg.suspend !== 'boolean') {
          post({ type: 'reply', id: msg.id, ok: false, error: encodeError(new Error(`${msg.type} without suspend`)) });
          return;
        }
        void answer(msg);
      }
    }
  });

  let ctx!: Context;
  const channel = new Channel(workerPort, {
    cancel: (reason) => ctx.cancel(reason),
    park: () => {
      ctx.park();
      channel.close();
    },
  });
  ctx = new Context(workflowId, opts.recorded ?? [], channel, opts.errorClasses ?? new Map(), opts.stepAttempts);

  return {
    ctx,
    stepDeadlines,
    requests,
    checkpoints,
    recorded,
    slots,
    sent,
    get threadId() {
      return threadId;
    },
    deliver(topic, value) {
      const queue = inbox.get(topic) ?? [];
      queue.push(encodeValue(value));
      inbox.set(topic, queue);
    },
    setEvent(wf, key, value) {
      events.set(eventKey(wf, key), encodeValue(value));
    },
    received<T extends WorkerRequest['type']>(type: T): Promise<RequestOf<T>> {
      const seen = requests.find((r): r is RequestOf<T> => r.type === type);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => watchers.push({ type, resolve: (r) => resolve(r as RequestOf<T>) }));
    },
    cancel(reason: CancelReason = 'cancelled') {
      post({ type: 'cancel', reason });
    },
    park() {
      post({ type: 'park' });
    },
    close() {
      if (closed) return;
      closed = true;
      channel.close();
      mainPort.close();
    },
  };
}
