// The protocol between the main thread and a workflow on a worker thread. Every run of a thread
// talks over that thread's line (one MessagePort per thread, threads/line.ts), each message
// tagged with its run's number. The worker asks, main answers with a `reply` carrying the same
// request id. Payloads are already-encoded bytes: the main thread moves them to and from
// Postgres without decoding them.
import type { MessagePort } from 'node:worker_threads';
import type { CancelReason } from './errors.ts';

/** A step as recorded in Postgres, handed to the worker so a replay skips what already ran. */
export interface RecordedStep {
  stepId: number;
  name: string;
  output: Uint8Array | null;
  error: Uint8Array | null;
  /** set on the step that started a child workflow */
  childWorkflowId: string | null;
}

/** One execution of a workflow: a first run, or a recovery with the steps recorded so far. */
export interface Execution {
  id: string;
  name: string;
  /** the queue it was dequeued from, if any */
  queue?: string;
  input: Uint8Array;
  /** 1 on the first dispatch, +1 for every re-dispatch */
  attempt: number;
  /** recorded steps, by ascending stepId; empty on a first run */
  steps: RecordedStep[];
  /** epoch ms past which it is cancelled (main enforces it; the context aborts its signal too) */
  deadline?: number;
  /**
   * Attempts already used by steps whose thread was ended past their timeout (by stepId): the
   * step goes on from the next attempt rather than from the first.
   */
  stepAttempts?: Record<number, number>;
}

/** What a thread knows of one datasource of ctx.transaction. */
export interface DatasourceSpec {
  url: string;
  /** connections of this thread's pool */
  poolSize: number;
  /** the server has client_connection_check_interval (Postgres 14+), found at launch */
  connectionCheck: boolean;
}

/** What every thread gets for its transactions (piscina's workerData.datasources). */
export interface DatasourcesData {
  sources: Record<string, DatasourceSpec>;
  /** the schema of skein's transaction_outputs table, already validated on main */
  schema: string;
  connectTimeoutMs: number;
}

/** What a thread runs: an execution, with the module to find it in and its run's number on the line. */
export interface RunTask extends Execution {
  workflowsModule: string;
  /**
   * This run's number on its thread's line to main (LineMessage): the run's messages both ways
   * carry it. One line per thread instead of a MessageChannel per run (see threads/line.ts).
   */
  run: number;
  /**
   * W3C traceparent of this run's span, when main traces (runtime/tracing.ts): the workflow's
   * code runs in that context, so spans the user's code makes on the thread nest under it.
   */
  trace?: string;
  /**
   * A test's crash points watch this run (runtime/testing/): the worker tells main when each
   * step's function begins and asks before its checkpoint (ProbeMessage). Unset, no message.
   */
  probe?: boolean;
  /**
   * Replay only (replayCheck): nothing runs and nothing is written. The first call past the
   * recorded steps ends the task with `historyEnd`; a step recorded under another name, with
   * a NonDeterminismError.
   */
  replay?: boolean;
}

/**
 * What failed, in plain bounded strings, for traces and logs: main never decodes the stored
 * error on its hot path.
 */
export interface Failure {
  type: string;
  message: string;
}

/**
 * How a task ends. `stopped`: it must record nothing more. With `retry`, a checkpoint could not
 * be written and the workflow should run again from what was recorded; without, another
 * execution owns it now.
 */
export type TaskResult =
  | { type: 'output'; bytes: Uint8Array }
  | { type: 'error'; bytes: Uint8Array; failure: Failure }
  | { type: 'stopped'; reason: string; retry: boolean }
  /** main asked it to leave its thread while it waited (see ParkMessage) */
  | { type: 'parked' }
  /** the thread could not load the workflows module: no code ran; it runs again elsewhere */
  | { type: 'unavailable'; reason: string };

/**
 * How a replay (RunTask.replay) ends: the code returned or threw, or called something its
 * history does not have (`historyEnd`). `stepsCalled`: the step ids the code took.
 */
export interface ReplayResult {
  type: 'replay';
  stepsCalled: number;
  end:
    | Extract<TaskResult, { type: 'output' | 'error' | 'stopped' }>
    | { type: 'historyEnd'; stepId: number; name: string };
}

/** What a task returns. */
export type WorkerResult = TaskResult | ReplayResult;

/**
 * Posted once by each thread on its parentPort (not a workflow's port) when it has loaded the
 * workflows module, or failed to. Main admits work only to threads that loaded it.
 */
export interface WarmMessage {
  type: 'skein:warm';
  threadId: number;
  /** set when loading failed: what the thread saw */
  error?: { message: string; stack: string };
}

/**
 * Posted by each thread on its parentPort as it starts, before any task: the port of its line,
 * on which every run of the thread talks to main. Worker to main, a message is `[run, message]`;
 * main to worker, a batch of them (the replies of one turn, one post per thread).
 */
export interface LineMessage {
  type: 'skein:line';
  threadId: number;
  port: MessagePort;
}

export function isLineMessage(msg: unknown): msg is LineMessage {
  return typeof msg === 'object' && msg !== null && (msg as LineMessage).type === 'skein:line';
}

/** A run's message on its thread's line: the run's number, then the message. */
export type OnLine<M> = [run: number, message: M];

/**
 * Main to worker, on the line: run this task (its `run` is the number the message carries). A
 * workflow's run goes to its thread this way, in the turn's batch, rather than as a piscina
 * task of its own (threads/line.ts). Replays are still piscina tasks.
 */
export interface StartMessage {
  type: 'start';
  task: RunTask;
}

/**
 * Worker to main, on the line: the run ended, with what the task returned, or (never expected:
 * the task function does not throw) what it threw, which main takes as it took a rejected
 * piscina task: as the thread's death for that run.
 */
export interface EndMessage {
  type: 'end';
  result?: TaskResult;
  error?: string;
}

/** What main sends on a line; a run's Channel sees only the MainMessages. */
export type ToWorker = MainMessage | StartMessage;

/** What a worker sends on its line. */
export type FromWorker = WorkerMessage | EndMessage;

export function isWarmMessage(msg: unknown): msg is WarmMessage {
  return typeof msg === 'object' && msg !== null && (msg as WarmMessage).type === 'skein:warm';
}

// ---- worker -> main ------------------------------------------------------------------------

/** Sent first on every port, so main knows which thread a workflow runs on. */
export interface ThreadMessage {
  type: 'thread';
  threadId: number;
}

/** A step's outcome, to be committed before the step returns to workflow code. */
export interface CheckpointMessage {
  type: 'checkpoint';
  id: number;
  stepId: number;
  name: string;
  output: Uint8Array | null;
  error: Uint8Array | null;
  startedAt: number;
  /** tries of the step's function (its retries + 1) */
  attempts: number;
  /** set with `error` */
  failure?: Failure;
}

/** Send a message, recorded as step `stepId` in the same transaction. */
export interface SendMessage {
  type: 'send';
  id: number;
  stepId: number;
  destinationId: string;
  /** '' for no topic */
  topic: string;
  message: Uint8Array;
}

/**
 * The fields of every wait (recv, getEvent, sleep, childResult, backoff). `suspend`: nothing
 * else of this workflow is running (no step function, no other request but waits), so from
 * now on it holds no thread slot. Main gives it one back before it delivers the reply.
 */
interface WaitFields {
  id: number;
  suspend: boolean;
}

/** Take the oldest message on `topic`, waiting until `deadline`; recorded as step `stepId`. */
export interface RecvMessage extends WaitFields {
  type: 'recv';
  stepId: number;
  topic: string;
  /** epoch ms */
  deadline: number;
}

/**
 * A durable sleep until `until` (recorded already as the previous step). `stepId` is the next
 * step's id: a wait record that outlives it is stale (recovery/).
 */
export interface SleepMessage extends WaitFields {
  type: 'sleep';
  stepId: number;
  until: number;
}

/** A step's retry back-off. Not durable (nor are attempts), so it never parks. */
export interface BackoffMessage extends WaitFields {
  type: 'backoff';
  /** the step that retries (its timeout watch, if any, ends here) */
  stepId: number;
  until: number;
  /**
   * Set by a transaction retrying on the database's failures (a conflict, a lost connection),
   * which has no limit: main logs it now and then, since a worker thread has no logger.
   */
  transactionRetry?: { name: string; attempt: number; error: string };
}

export interface SetEventMessage {
  type: 'setEvent';
  id: number;
  stepId: number;
  key: string;
  value: Uint8Array;
}

/** Read another workflow's event, waiting until `deadline`; the value read is recorded. */
export interface GetEventMessage extends WaitFields {
  type: 'getEvent';
  stepId: number;
  workflowId: string;
  key: string;
  deadline: number;
}

/** Start a child workflow; its row and this step's record commit together. */
export interface StartChildMessage {
  type: 'startChild';
  id: number;
  stepId: number;
  /** the step's name: the child workflow's, so a replay notices a different child */
  stepName: string;
  childId: string;
  name: string;
  input: Uint8Array;
  queue?: string;
  priority?: number;
  dedupId?: string;
  timeoutMs?: number;
  delayMs?: number;
  /** epoch ms */
  startAt?: number;
  partitionKey?: string;
}

/** Wait for a workflow to end and record its outcome (`handle.result()` in a workflow). */
export interface ChildResultMessage extends WaitFields {
  type: 'childResult';
  stepId: number;
  childId: string;
}

/** Read and record a workflow's status, without payloads (`handle.status()` in a workflow). */
export interface ChildStatusMessage {
  type: 'childStatus';
  id: number;
  stepId: number;
  childId: string;
}

/**
 * Sent before each attempt of a step that has a timeout (and only then: steps without one cost
 * no message). A CPU-bound attempt cannot see its own timer, so main watches too: still
 * running `stepKillGraceMs` after `until`, its thread is ended. The watch ends with the step's
 * checkpoint, its backoff, the next attempt's message, or the execution.
 */
export interface StepDeadlineMessage {
  type: 'stepDeadline';
  stepId: number;
  /** the step's name, for the error main records when it ends the thread on the last attempt */
  name: string;
  /** 1-based */
  attempt: number;
  /** epoch ms */
  until: number;
  /** no retry follows: a timeout records the step's StepTimeoutError */
  last: boolean;
  /** the back-off before the next attempt, if there is one */
  retryDelayMs: number;
}

/**
 * Only in a run a test watches (RunTask.probe). `probeBegan`: an attempt of step `stepId`'s
 * function begins (posted, no reply). `probeRan`: its function is done and its checkpoint not
 * yet sent; a request, so a test can end the thread at exactly that point instead of replying.
 */
export interface ProbeBegan {
  type: 'probeBegan';
  stepId: number;
  name: string;
}

export interface ProbeRan {
  type: 'probeRan';
  id: number;
  stepId: number;
  name: string;
}

/** Requests that wait on something outside the workflow; they may park it. */
export type WaitRequest = RecvMessage | GetEventMessage | SleepMessage | ChildResultMessage | BackoffMessage;

/** Requests: each is answered by a `reply` with the same id once its effect is durable. */
export type WorkerRequest =
  | CheckpointMessage
  | SendMessage
  | SetEventMessage
  | StartChildMessage
  | ChildStatusMessage
  | WaitRequest;

const WAIT_TYPES: ReadonlySet<string> = new Set<WaitRequest['type']>(['recv', 'getEvent', 'sleep', 'childResult', 'backoff']);

export function isWait(req: WorkerRequest): req is WaitRequest {
  return WAIT_TYPES.has(req.type);
}

/**
 * Slot bookkeeping outside requests, for workflows that run several things at once: `suspend`
 * when the last running thing ended while waits remain; `resume` when code runs again without
 * a reply having woken it (e.g. a non-ctx promise resolved).
 */
export interface SlotMessage {
  type: 'suspend' | 'resume';
}

export type WorkerMessage = ThreadMessage | SlotMessage | StepDeadlineMessage | ProbeBegan | ProbeRan | WorkerRequest;

// ---- main -> worker ------------------------------------------------------------------------

/**
 * `value`: the encoded payload a recv, getEvent or child result returns (encoded null on a
 * timeout); `thrown`: the encoded error a child result throws. `ok: false` means the request
 * itself failed (nothing durable happened) and the execution must stop.
 */
export type ReplyMessage =
  | { type: 'reply'; id: number; ok: true; value?: Uint8Array; thrown?: Uint8Array }
  | { type: 'reply'; id: number; ok: false; error: Uint8Array };

/** What a successful reply carries to the waiting request. */
export interface Reply {
  value?: Uint8Array;
  thrown?: Uint8Array;
}

/** The workflow was cancelled (or passed its deadline): its signal aborts, its requests fail. */
export interface CancelMessage {
  type: 'cancel';
  reason: CancelReason;
}

/**
 * Leave the thread: the workflow is waiting and main keeps its wake condition instead. The
 * task returns `parked` at once; the workflow's pending promises are never settled, so none of
 * its code runs again in this execution, and it is collected. On wake, main dispatches it
 * again and it replays its recorded steps to the wait.
 */
export interface ParkMessage {
  type: 'park';
}

export type MainMessage = ReplyMessage | CancelMessage | ParkMessage;

/** recv and getEvent wait this long unless told otherwise */
export const DEFAULT_WAIT_MS = 60_000;

/**
 * The step names skein records for its own ctx calls: the worker's context writes them, main's
 * request handler writes some of them (a send and its step are one write), and a replay compares
 * them, so both sides take them from here; drift would make every replay a NonDeterminismError.
 * User steps may not start with the prefix (ctx.step refuses it), so no user name can collide.
 */
export const RESERVED_STEP_PREFIX = 'skein.';

export const STEP = {
  now: 'skein.now',
  random: 'skein.random',
  uuid: 'skein.uuid',
  sleep: 'skein.sleep',
  send: 'skein.send',
  recvDeadline: 'skein.recv.deadline',
  recv: 'skein.recv',
  setEvent: 'skein.setEvent',
  getEventDeadline: 'skein.getEvent.deadline',
  getEvent: 'skein.getEvent',
  getResult: 'skein.getResult',
  getStatus: 'skein.getStatus',
} as const;

/** The step that starts child workflow `name`. */
export function childStartStep(name: string): string {
  return `skein.start:${name}`;
}
