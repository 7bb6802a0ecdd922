// Owns the piscina pool and the life of every workflow this process runs: admission to a thread
// slot, the channel of each execution, its waits, parking and waking. The bytes it moves are
// never decoded here.
//
// A workflow is `ready` (waiting for a slot), `running` (it has a task on a thread; it may be
// waiting there, holding no slot), or `parked` (no task: the parked set keeps its wake
// condition). Each execution on a thread is an Attempt; parking or a thread's death ends it,
// and the next one replays the recorded steps. A checkpoint is acknowledged only after COMMIT.
//
// A run goes to its thread on the thread's line, not as a piscina task (runtime/thread-lines.ts).
// When the thread dies (crash, process.exit in a step, out of memory, killThread), the runs on
// its line end with what it died of; the worker function itself never throws. The workflow
// then runs again, from its recorded steps. Blame: an attempt is counted only against a
// workflow that was running code on the thread alone; one waiting there cannot have killed it
// and goes again at once; one running code beside others goes again after a back-off, and
// alone, on a thread reserved for it, once it was there at two deaths without recording a step
// in between.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { errorField, type Logger } from '../common/logger.ts';
import type { Preparation } from '../recovery/recover.ts';
import { encodeError } from '../common/codec.ts';
import { failureOf } from '../common/describe.ts';
import { backoff } from '../common/retry.ts';
import { SkeinError, StepTimeoutError, type CancelReason } from '../common/errors.ts';
import {
  isWait,
  isLineMessage,
  isWarmMessage,
  type CheckpointMessage,
  type DatasourcesData,
  type LineMessage,
  type Execution,
  type Reply,
  type RunTask,
  type StepDeadlineMessage,
  type TaskResult,
  type WaitRequest,
  type WorkerMessage,
  type WorkerRequest,
  type WorkerResult,
} from '../common/protocol.ts';
import { open, Slots, startMissingThreads, type ThreadSlots } from './balancer.ts';
import { BacklogShare, SHARE_WINDOW_MS } from './backlog-share.ts';
import { ParkedSet } from './parked.ts';
import type { WaitSpec, WakeCondition } from './requests.ts';
import { runWait } from './wait.ts';
import { writeCheckpointAgain, type RetryScope } from './checkpoint-retry.ts';
import type { Waiters } from './waiters.ts';
import type { Pool } from '../storage/database.ts';
import type { TimerHandle } from './timers.ts';
import type { Observer } from './observer.ts';
import type { Probe } from './probe.ts';
import { ThreadLines, type RunLink } from './thread-lines.ts';

export type { Execution } from '../common/protocol.ts';

/** How a workflow ended here. `STOPPED`: it did not finish in this process. */
export type Completion =
  | { status: 'SUCCESS'; output: Uint8Array; error: null }
  | { status: 'ERROR'; output: null; error: Uint8Array }
  | { status: 'STOPPED'; reason: string };

/** What identifies a workflow to run, before its input and steps are loaded. */
export interface WorkflowRef {
  id: string;
  name: string;
  queue?: string;
  /** epoch ms: past it, the workflow is cancelled (DispatcherOptions.deadlinePassed) */
  deadline?: number;
}

/**
 * Waiting workflows a thread keeps before the oldest parkable one is parked whatever its
 * threshold: bounds a thread's memory when many short waits pile up.
 */
const RESIDENT_PER_THREAD = 512;

interface Wait {
  reqId: number;
  spec: WaitSpec;
  /** stops this wait (a park, or the attempt's end) */
  stop: AbortController;
  /** settles once the wait is served or stopped, after any check in flight */
  served: Promise<Reply>;
  parkTimer?: TimerHandle;
  /** the step its reply records (a recv, getEvent or child result), for a test's probe */
  records?: number;
}

interface Attempt {
  /** the run's end of its thread's line (runtime/thread-lines.ts) */
  port: RunLink;
  /** the worker took the task (its first message came): its code may have run */
  started: boolean;
  /**
   * Why the attempt ended, once it has; its waits stop then (onEnd). Not an AbortController: one
   * per run, aborted at each run's end, cost main ~15 us a workflow (profiled, 2,000 concurrent
   * workflows), and most runs wait on nothing.
   */
  endedBy?: unknown;
  onEnd: Set<(reason: unknown) => void>;
  /** the attempt was given up (parked, or closing): its messages and result are ignored */
  abandoned: boolean;
  /** requests being served (checkpoints, waits); settled before the next attempt loads steps */
  inflight: Set<Promise<unknown>>;
  waits: Map<number, Wait>;
  /** steps running with a timeout: the timer that ends the thread if one overstays (by stepId) */
  stepWatches: Map<number, TimerHandle>;
  /** pauses of checkpoints being written again (runtime/checkpoint-retry.ts), woken by a cancel; made on first use */
  retryPauses?: Set<() => void>;
}

/** Ends `attempt` for `reason` (the first reason stands), stopping its waits. */
function endAttempt(attempt: Attempt, reason: unknown): void {
  if (attempt.endedBy !== undefined) return;
  attempt.endedBy = reason;
  for (const stop of [...attempt.onEnd]) stop(reason);
  attempt.onEnd.clear();
}

interface Entry extends WorkflowRef {
  phase: 'ready' | 'starting' | 'running' | 'parked';
  /** how the next attempt is made: a prepared first execution, or how to load one */
  next: Execution | Preparation | null;
  /** the thread whose slot this workflow holds (or has reserved), if any */
  slot: ThreadSlots | null;
  /** the thread of the current attempt, once known */
  thread: ThreadSlots | null;
  attempt: Attempt | null;
  /** the wait record written at parking; a wake waits for it (one row, one statement) */
  recorded?: Promise<unknown>;
  /** thread deaths it was running code at, since it last recorded a step */
  suspicion: number;
  /** its next attempt runs alone on a thread */
  solo: boolean;
  /** due at a time (a schedule's tick): it waits for a slot ahead of the others */
  due?: boolean;
  /** cancelled (durably, already): it runs no more here */
  cancelled?: CancelReason;
  /** epoch ms */
  deadline?: number;
  deadlineTimer?: TimerHandle;
  /** a force cancel armed its thread's end */
  forced?: boolean;
  /** attempts used by steps whose thread was ended at their timeout (protocol Execution) */
  stepAttempts?: Record<number, number>;
  /** a test's probe ended its thread (a crash point): not worth a warning */
  crashPoint?: boolean;
  /** its thread is being ended because a step overstayed its timeout: the back-off before it goes on */
  timedOut?: { retryDelayMs: number };
  /** its code returned or threw, and its final status is being written */
  finishing?: boolean;
  done: Promise<Completion>;
  resolve(c: Completion): void;
}

export interface DispatcherOptions {
  workflowsModule: string;
  /** the databases ctx.transaction reaches, handed to every thread */
  datasources: DatasourcesData;
  /** a test clock's shared offset, so threads read main's time (common/clock.ts) */
  clock: SharedArrayBuffer | null;
  threads: number;
  workflowsPerThread: number;
  parkAfterMs: number;
  resourceLimits?: ResourceLimits;
  pool: Pool;
  schema: string;
  waiters: Waiters;
  /** answers a request that does not wait, once its effect is durable (runtime/requests.ts) */
  serve(workflowId: string, req: Exclude<WorkerRequest, WaitRequest>): Promise<Reply | undefined>;
  /** describes a wait (runtime/requests.ts) */
  waitSpec(workflowId: string, req: WaitRequest): WaitSpec;
  /** loads (and for a recovery, claims) the next execution; null when it is not to run here */
  prepare(wf: WorkflowRef, how: Preparation, closing: () => boolean): Promise<Execution | null>;
  /** records a parked workflow's wake condition, for a relaunch to re-arm */
  recordWait(id: string, w: WakeCondition): Promise<unknown>;
  /** writes the final status; resolves false if the workflow was no longer PENDING */
  finish(wf: WorkflowRef, completion: Completion): Promise<boolean>;
  /** slots freed and nobody is waiting for them (queue runners may claim) */
  slotsFreed?(): void;
  /** a workflow here passed its deadline: cancel it durably (it calls cancel() back) */
  deadlinePassed(id: string): void;
  /** how long a step past its timeout, or a force-cancelled one, may go on before its thread ends */
  stepKillGraceMs: number;
  /** told of runs, steps and thread deaths, for metrics and traces */
  observer: Observer;
  onError(err: unknown): void;
  logger: Logger;
}

/** Thread deaths a workflow is at, running code and recording nothing between, before it runs alone. */
const SOLO_AFTER = 2;
/** Back-off before a suspect of a thread death runs again: doubling from BASE, up to MAX. */
const DEATH_BACKOFF_BASE_MS = 100;
const DEATH_BACKOFF_MAX_MS = 10_000;
/** Pause before an execution that lost a step to another one claims the workflow again. */
const CONFLICT_BACKOFF_MS = 250;
/** A thread that could not load the workflows module is replaced after this, doubling up to MAX. */
const LOAD_RETRY_BASE_MS = 500;
const LOAD_RETRY_MAX_MS = 30_000;
const DIED_LOADING = 'process.exit() at import, or resourceLimits too small?';
/** Pause before a workflow whose task reached a thread without the module goes again. */
const UNAVAILABLE_RETRY_MS = 100;

/**
 * Workflows admitted to threads in one turn of the event loop. Each costs the main thread
 * 0.1-0.3 ms on this 2-core machine (a MessageChannel, a task posted to piscina, waking a
 * thread): with workflowsPerThread 1024, 2,000 starts filled their slots in one turn and the
 * loop stalled 300-500 ms (bench: 2,000 concurrent starts, --cpu-prof). The rest go on the
 * next turns, with I/O and timers in between.
 */
const ADMIT_PER_TURN = 32;

/** Cancels without a run here are remembered this long, and at most this many. */
const UNHEARD_MS = 60_000;
const UNHEARD_MAX = 10_000;

/** Why an attempt's pending waits are dropped; one shared error, not a stack capture each time. */
const EXECUTION_ENDED = new SkeinError('the execution ended');
const PARKING = new SkeinError('the workflow is parking');

// Run from source (tsx) the worker is worker.ts; from dist it is worker.js.
const WORKER = new URL(`../threads/worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** Promise.withResolvers, which Node 20 lacks. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(err: Error): void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A double-ended FIFO without Array#shift's O(n). */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;
  get length(): number {
    return this.#items.length - this.#head;
  }
  push(item: T): void {
    this.#items.push(item);
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
  drain(): T[] {
    const all = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return all;
  }
}

/**
 * Workflows waiting for a slot: those due at a time (a schedule's tick) go first, so a backlog
 * of direct starts does not make every tick late; each lane keeps its own order.
 */
class ReadyLanes<T> {
  readonly #due = new Fifo<T>();
  readonly #rest = new Fifo<T>();
  get length(): number {
    return this.#due.length + this.#rest.length;
  }
  push(item: T, due: boolean): void {
    (due ? this.#due : this.#rest).push(item);
  }
  shift(): T | undefined {
    return this.#due.shift() ?? this.#rest.shift();
  }
  drain(): T[] {
    return [...this.#due.drain(), ...this.#rest.drain()];
  }
}

export class Dispatcher {
  readonly #pool: Piscina<RunTask, TaskResult>;
  readonly #o: DispatcherOptions;
  readonly #entries = new Map<string, Entry>();
  /** attempts on threads now (running code or waiting there): metrics' gauge, kept as they begin and end */
  #onThreads = 0;
  readonly #slots: Slots;
  readonly #ready = new ReadyLanes<Entry>();
  /** ready workflows that must run alone, each waiting for a thread drained for it */
  readonly #soloReady = new Fifo<Entry>();
  /** reserved threads: the workflow running alone on each, or null while it drains */
  readonly #solo = new Map<ThreadSlots, Entry | null>();
  readonly #parked: ParkedSet;
  /** waiting, unparked workflows per thread, oldest first (for RESIDENT_PER_THREAD) */
  readonly #resident = new Map<number, Set<Entry>>();
  /** piscina's balancer places nothing while set (startMissingThreads' empty tasks) */
  #refusing = false;
  /** tests' watches on workflows (skein/testing) */
  readonly #probes = new Map<string, Probe>();
  /** the threads' lines, over which runs and main talk */
  readonly #lines = new ThreadLines();
  /** why each thread with a line ended, as its Worker said: what it threw, or an exit code's Error */
  readonly #deathOf = new Map<number, unknown>();
  /** shutting down: nothing parks or wakes; waiting workflows are let go */
  #closing = false;
  /** past the shutdown's grace period: nothing starts any more */
  #stopped = false;
  /** admissions left in this turn of the event loop (ADMIT_PER_TURN) */
  #admitBudget = ADMIT_PER_TURN;
  /** refills the budget on the next turn, and admits what waited for it */
  #admitRefill: NodeJS.Immediate | null = null;
  /** a backlog between the free slots and all of them, shared out over the threads */
  readonly #share = new BacklogShare();
  #shareEnd: NodeJS.Timeout | null = null;
  /** pick()'s filter while a share window is open, made once: #admit runs on every freed slot */
  readonly #withinShare = (t: ThreadSlots) => this.#share.allows(t.id, this.#ready.length);
  #announcing = false;
  /** settles with the first thread's word on the workflows module (launch waits for it) */
  readonly #firstLoad = deferred();
  #loadedOnce = false;
  /** threads in a row that could not load the module or died loading it: the retry back-off */
  #loadFailures = 0;
  #replenishing = false;
  /** threads started that have not yet said whether they loaded the module */
  readonly #loading = new Set<number>();
  /** cancels that found no run here, by workflow ID, oldest first (see #noteUnheard) */
  readonly #unheard = new Map<string, number>();

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.#slots = new Slots(options.workflowsPerThread);
    // piscina's own tasks are only replays and the empty tasks that start missing threads
    // (runs go on the lines): admission, not this cap, is the limit.
    const maxTasks = options.workflowsPerThread + 4 * RESIDENT_PER_THREAD;
    this.#pool = new Piscina({
      filename: WORKER.href,
      minThreads: options.threads,
      maxThreads: options.threads,
      concurrentTasksPerWorker: maxTasks,
      // 'sync' (the default) parks idle threads in Atomics.wait, freezing their event loops
      // between tasks, which stalls the timers and port messages of workflows still running.
      atomics: 'disabled',
      // Infinity, piscina's "never": a large finite value overflows Node's 32-bit timer into a
      // 1 ms reaper that tears down idle threads and replaces them cold.
      idleTimeout: Infinity,
      resourceLimits: options.resourceLimits,
      workerData: { workflowsModule: options.workflowsModule, datasources: options.datasources, clock: options.clock },
      loadBalancer: this.#slots.balancer(maxTasks, () => this.#refusing),
    });
    this.#firstLoad.promise.catch(() => {}); // read by launch, or by nobody
    this.#pool.on('workerCreate', (worker: { id: number }) => this.#loading.add(worker.id));
    this.#pool.on('message', (msg: unknown) => {
      if (isLineMessage(msg)) return this.#attachLine(msg.threadId, msg.port);
      if (!isWarmMessage(msg)) return;
      this.#loading.delete(msg.threadId);
      // late word of a thread that died meanwhile: a record made now would count its slots
      if (!this.#pool.threads.some((w) => w.threadId === msg.threadId)) return;
      if (msg.error) return this.#loadFailed(msg.threadId, msg.error);
      this.#loadedOnce = true;
      this.#loadFailures = 0;
      this.#firstLoad.resolve();
      this.#slots.thread(msg.threadId).warm = true;
      this.#admit();
      this.#announceFree();
    });
    // A thread that exited reports threadId -1, so its record is found by comparison with the
    // threads still in the pool, once piscina removed it (after this event). One that died of an
    // uncaught error still has its id here, and is still in the pool. (Before, records of dead
    // threads stayed, counted as warm and free, and work was admitted for threads that were gone.)
    this.#pool.on('workerDestroy', (worker: { id: number }) => {
      const id = worker.id;
      queueMicrotask(() => {
        const live = new Set(this.#pool.threads.map((w) => w.threadId));
        for (const t of this.#slots.drop((tid) => tid === id || !live.has(tid))) {
          t.heldAtDeath ??= t.held;
          t.wakeQueue.length = 0; // their attempts are ending with the thread
          this.#resident.delete(t.id);
          this.#solo.delete(t);
        }
        // then its runs end (#died): with the thread's record gone, the slots they give back
        // admit nothing to it, and the blame reads what it held at its death
        this.#lines.retain((tid) => tid !== id && live.has(tid), (tid) => this.#deathReason(tid));
        if (this.#closing) return;
        options.observer.threadDied();
        const diedLoading = [...this.#loading].filter((tid) => !live.has(tid));
        for (const tid of diedLoading) this.#loading.delete(tid);
        if (!this.#loadedOnce) {
          this.#firstLoad.reject(new Error(`a worker thread exited while it loaded the module (${DIED_LOADING})`));
        } else if (diedLoading.length > 0 || live.size < options.threads) {
          // A thread ended before it said it loaded the module: after it was ready (piscina
          // replaced it, and the replacement may die the same way), or before (piscina left the
          // pool short). Say so, and let the top-up below wait (a thread that loads resets it).
          this.#loadFailures++;
          options.logger.warn(`skein: a worker thread ended while it started or loaded the workflows module (${DIED_LOADING})`, { module: options.workflowsModule });
        }
        if (live.size < options.threads) this.#replenish();
        this.#admit();
      });
    });
    // Without a listener, a thread's error event (e.g. a close timeout) crashes the process.
    // piscina emits it when a thread dies with no task of its own, which a thread running
    // workflows on its line now is: their deaths are told each (#died), not as a pool error.
    this.#pool.on('error', (err: unknown) => {
      for (const [threadId, cause] of this.#deathOf) if (cause === err && this.#lines.busy(threadId)) return;
      options.onError(err);
    });
    this.#parked = new ParkedSet({
      pool: options.pool,
      schema: options.schema,
      waiters: options.waiters,
      timers: options.waiters.timers,
      wake: (id) => this.#wake(id),
      logger: options.logger,
    });
  }

  /**
   * A thread's line arrived: runs go to it from now on. Its Worker's end is watched here, so
   * that the runs on the line end with what the thread died of (piscina told a run's task that).
   */
  #attachLine(threadId: number, port: LineMessage['port']): void {
    this.#lines.attach(threadId, port);
    const worker = this.#pool.threads.find((w) => w.threadId === threadId);
    if (!worker) return;
    // first, before piscina's listeners: its 'error' event is emitted from within them
    worker.prependListener('error', (err: unknown) => {
      if (this.#lines.has(threadId)) this.#deathOf.set(threadId, err); // (else its runs ended already)
    });
    worker.prependListener('exit', (code: number) => {
      // (after an 'error', piscina ended its runs a tick before: nothing is kept for it)
      if (this.#lines.has(threadId) && !this.#deathOf.has(threadId)) this.#deathOf.set(threadId, new Error(`worker exited with code: ${code}`));
    });
  }

  /** What thread `threadId` died of, for the runs it had (and forgets it). */
  #deathReason(threadId: number): Error {
    const cause = this.#deathOf.get(threadId);
    this.#deathOf.delete(threadId);
    if (cause === undefined) return new Error(this.#closing ? 'Terminating worker thread' : 'the thread ended');
    return cause instanceof Error ? cause : new Error(String(cause));
  }

  /**
   * Resolves once a thread loaded the workflows module; rejects with what the first thread that
   * could not load it saw (an Error whose message and stack are the thread's).
   */
  loaded(): Promise<void> {
    return this.#firstLoad.promise;
  }

  /**
   * A thread could not load the workflows module. Nothing is admitted to it (its workflows
   * would end as ERROR for what is no fault of theirs); it is replaced after a back-off, and
   * ready workflows wait for a thread that loads it. The module system caches a failed import,
   * so only a fresh thread can try again.
   */
  #loadFailed(threadId: number, error: { message: string; stack: string }): void {
    if (!this.#loadedOnce) {
      // launch reports it, and shuts down
      return this.#firstLoad.reject(Object.assign(new Error(error.message), { stack: error.stack }));
    }
    if (this.#closing) return;
    const delay = backoff(LOAD_RETRY_BASE_MS, LOAD_RETRY_MAX_MS, ++this.#loadFailures);
    this.#o.logger.error(
      `skein: a worker thread could not load the workflows module; it is replaced in ${delay} ms, and workflows wait for a thread that loads it`,
      { threadId, module: this.#o.workflowsModule, error: error.message },
    );
    const timers = this.#o.waiters.timers;
    timers.at(timers.now() + delay, () => {
      if (this.#closing) return;
      void this.#pool.threads.find((w) => w.threadId === threadId)?.terminate();
    });
  }

  /**
   * Brings the pool back to its size: piscina stops replacing threads for good once one fails
   * before it is ready (see startMissingThreads), which would leave workflows waiting for
   * threads that never come.
   */
  #replenish(): void {
    if (this.#replenishing || this.#closing) return;
    this.#replenishing = true;
    // after a back-off when threads keep dying as they start
    const delay = this.#loadFailures === 0 ? 0 : backoff(LOAD_RETRY_BASE_MS, LOAD_RETRY_MAX_MS, this.#loadFailures);
    const timers = this.#o.waiters.timers;
    timers.at(timers.now() + delay, () => {
      this.#replenishing = false;
      if (this.#closing) return;
      startMissingThreads(this.#pool, this.#o.threads, (on) => (this.#refusing = on));
    });
  }

  /** Free slots not yet promised to a workflow waiting for one (queue runners claim this many). */
  freeSlots(): number {
    return Math.max(0, this.#slots.freeTotal() - this.#ready.length - this.#soloReady.length);
  }

  /** Workflows here: holding or awaiting a slot, waiting on a thread, and parked. */
  stats(): { workflows: number; onThreads: number; ready: number; parked: number; parkedChecks: number } {
    return {
      workflows: this.#entries.size,
      onThreads: this.#onThreads,
      ready: this.#ready.length + this.#soloReady.length,
      parked: this.#parked.size,
      parkedChecks: this.#parked.checks,
    };
  }

  /**
   * Workflows running code, or about to (a test clock advances once none is: common/clock.ts).
   * A scan of every workflow here: for tests, never on a hot path.
   */
  busy(): string[] {
    const ids: string[] = [];
    for (const e of this.#entries.values()) {
      if (e.phase === 'ready' || e.phase === 'starting' || e.slot !== null) ids.push(e.id);
    }
    return ids;
  }

  /** Resolves when the workflow ends here, after its final status committed. */
  completion(id: string): Promise<Completion> | undefined {
    return this.#entries.get(id)?.done;
  }

  /** As completion(), but only for a workflow whose final status is being written here now. */
  finishing(id: string): Promise<Completion> | undefined {
    const entry = this.#entries.get(id);
    return entry?.finishing ? entry.done : undefined;
  }

  /**
   * Runs a prepared execution; a second dispatch of an ID already here joins the first. `due`:
   * it was due at a time (a schedule's tick), and waits for a slot ahead of the others.
   */
  dispatch(exec: Execution, opts?: { due?: boolean }): Promise<Completion> {
    return this.#enter(exec, exec, 'ready', opts?.due);
  }

  /** Runs a workflow to be loaded (and claimed) when a slot frees: recovery's backlog. */
  enqueue(wf: WorkflowRef, how: Preparation): Promise<Completion> {
    return this.#enter(wf, how, 'ready');
  }

  /** Re-arms a recovered workflow's wake condition; it is claimed and loaded when it wakes. */
  park(wf: WorkflowRef, w: WakeCondition, how: Preparation): Promise<Completion> {
    const existing = this.#entries.get(wf.id);
    if (existing) return existing.done;
    const done = this.#enter(wf, how, 'parked');
    if (!this.#closing) this.#parked.add(wf.id, w);
    return done;
  }

  /** Ends the thread that runs workflow `id`, as a crash would. */
  async killThread(id: string): Promise<void> {
    const threadId = this.#entries.get(id)?.thread?.id;
    if (threadId === undefined || !(await this.#terminate(threadId))) {
      throw new SkeinError(`workflow ${id} is not running on a thread of this process`);
    }
  }

  /**
   * Watches workflow `id`'s runs from the next one on (skein/testing's crash points). Returns
   * the call that ends the watch.
   */
  watch(id: string, probe: Probe): () => void {
    this.#probes.set(id, probe);
    return () => {
      if (this.#probes.get(id) === probe) this.#probes.delete(id);
    };
  }

  /**
   * Replays a workflow's recorded steps against the current code on a thread (replayCheck): no
   * step function runs and nothing is written or asked of main. It holds no slot: a test's
   * check, beside the service's work rather than in its queue.
   */
  async replay(exec: Execution): Promise<WorkerResult> {
    const link = this.#lines.open();
    const task: RunTask = { ...exec, workflowsModule: this.#o.workflowsModule, run: link.run, replay: true };
    try {
      return (await this.#pool.run(task)) as WorkerResult;
    } finally {
      link.close();
    }
  }

  /** A probe ended the thread of `entry`'s run at a crash point (see Probe). */
  #crashHere(entry: Entry): void {
    const threadId = entry.thread?.id;
    if (threadId === undefined) return;
    entry.crashPoint = true;
    void this.#terminate(threadId);
  }

  /** Ends thread `threadId`; false if it is not one of the pool's. */
  async #terminate(threadId: number): Promise<boolean> {
    const worker = this.#pool.threads.find((w) => w.threadId === threadId);
    if (!worker) return false;
    await worker.terminate();
    return true;
  }

  /**
   * Workflow `id` was cancelled (its status is CANCELLED already): it runs no more here. One
   * that waits for a slot or is parked ends now; a running one is told (its signal aborts, its
   * waits throw, its next ctx call throws). With `force`, a step that has not returned within
   * stepKillGraceMs has its thread ended; the other workflows of that thread run again from
   * their checkpoints, as after any thread death.
   */
  cancel(id: string, reason: CancelReason, force: boolean): void {
    const entry = this.#entries.get(id);
    if (!entry) return this.#noteUnheard(id);
    if (entry.cancelled && (entry.forced || !force)) return;
    const first = entry.cancelled === undefined;
    entry.cancelled ??= reason;
    if (first) this.#o.logger.info('skein: a workflow here was cancelled', { workflowId: entry.id, name: entry.name, reason, force });
    entry.deadlineTimer?.cancel();
    if (entry.phase === 'parked') return this.#end(entry, { status: 'STOPPED', reason: 'cancelled' });
    const attempt = entry.attempt;
    // ready or starting: #start sees `cancelled` and runs nothing
    if (entry.phase !== 'running' || !attempt || attempt.abandoned) return;
    if (first) {
      attempt.port.postMessage({ type: 'cancel', reason: entry.cancelled });
      // a checkpoint being written again gives up now, not at its next try
      for (const wake of [...(attempt.retryPauses ?? [])]) wake();
      // its waits throw now, so its code runs again: with a slot, as after a reply
      if (!entry.slot && entry.thread && this.#slots.has(entry.thread)) this.#take(entry, entry.thread);
      this.#notResident(entry);
    }
    if (force) {
      entry.forced = true;
      const timers = this.#o.waiters.timers;
      timers.at(timers.now() + this.#o.stepKillGraceMs, () => {
        const threadId = entry.thread?.id;
        if (entry.attempt !== attempt || attempt.abandoned || threadId === undefined) return;
        this.#o.logger.warn('skein: ending the thread of a cancelled workflow whose step did not return (force)', {
          workflowId: entry.id, name: entry.name, graceMs: this.#o.stepKillGraceMs,
        });
        void this.#terminate(threadId);
      });
    }
  }

  /**
   * A cancel for a workflow not here (yet): one claimed from a queue just before the cancel
   * committed may be on its way to #enter. Remembered a while, so that if it arrives it loads
   * its status first instead of running what the claim handed over. Bounded: the cancels of a
   * whole fleet pass through here, and the oldest are forgotten first.
   */
  #noteUnheard(id: string): void {
    this.#unheard.delete(id);
    this.#unheard.set(id, Date.now());
    if (this.#unheard.size > UNHEARD_MAX) this.#unheard.delete(this.#unheard.keys().next().value!);
  }

  /** Whether a cancel for `id` arrived lately with no run here to tell (and forgets it). */
  #cancelledUnheard(id: string): boolean {
    const at = this.#unheard.get(id);
    if (at === undefined) return false;
    this.#unheard.delete(id);
    return Date.now() - at < UNHEARD_MS;
  }

  /** The IDs of the workflows running on threads here now. */
  running(): string[] {
    return [...this.#entries.values()].filter((e) => e.phase === 'running').map((e) => e.id);
  }

  /** The epoch ms deadline of a workflow running here, if it has one (a child's cap). */
  deadlineOf(id: string): number | undefined {
    return this.#entries.get(id)?.deadline;
  }

  #enter(wf: WorkflowRef, next: Execution | Preparation, phase: 'ready' | 'parked', due?: boolean): Promise<Completion> {
    const existing = this.#entries.get(wf.id);
    if (existing) {
      // a cancelled run still ending here, and the workflow resumed meanwhile: the new run
      // starts once the old one is gone, rather than joining it
      // (loading its status first: a cancel of the new run finds the old one, cancelled already)
      if (existing.cancelled) return existing.done.then(() => this.#enter(wf, 'input' in next ? { how: 'wake' } : next, phase));
      return existing.done;
    }
    if (this.#closing) return Promise.resolve({ status: 'STOPPED', reason: 'shutting down' });
    // cancelled between its claim and now: it runs only if its row says so (a resume since)
    if ('input' in next && this.#cancelledUnheard(wf.id)) next = { how: 'wake' };
    let resolve!: (c: Completion) => void;
    const done = new Promise<Completion>((r) => (resolve = r));
    const entry: Entry = {
      id: wf.id, name: wf.name, queue: wf.queue, phase, next, slot: null, thread: null, attempt: null,
      done, resolve, suspicion: 0, solo: false, due,
    };
    this.#entries.set(wf.id, entry);
    if (wf.deadline !== undefined) {
      entry.deadline = wf.deadline;
      // one timer per workflow with a deadline, on the coordinator's heap, cancelled at its end
      const timers = this.#o.waiters.timers;
      entry.deadlineTimer = timers.at(wf.deadline, () => {
        if (this.#entries.get(entry.id) === entry && !entry.cancelled) this.#o.deadlinePassed(entry.id);
      });
    }
    if (phase === 'ready') this.#makeReady(entry);
    return done;
  }

  #end(entry: Entry, c: Completion): void {
    entry.deadlineTimer?.cancel();
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
    this.#parked.remove(entry.id);
    this.#o.observer.ended(entry.id, c);
    entry.resolve(c);
  }

  // ---- slots --------------------------------------------------------------------------------

  #makeReady(entry: Entry): void {
    if (this.#stopped) return this.#end(entry, { status: 'STOPPED', reason: 'shutting down' });
    entry.phase = 'ready';
    if (entry.solo) this.#soloReady.push(entry);
    else this.#ready.push(entry, entry.due === true);
    this.#admit();
  }

  /** Starts ready workflows while a warm thread has a free slot. */
  #admit(): void {
    this.#admitSolo();
    if (this.#ready.length > 0 && this.#share.mayOpen) this.#openShare();
    while (this.#ready.length > 0 && !this.#stopped) {
      if (!this.#spendAdmission()) return; // the refill admits the rest on the next turn
      const t = this.#slots.pick(this.#share.open ? this.#withinShare : undefined);
      if (!t) {
        this.#admitBudget++; // not spent
        // without a window, no pick means every slot is held; with one, a cap may be why
        if (!this.#share.open || this.#slots.freeTotal() === 0) this.#share.full();
        return;
      }
      this.#share.took(t.id);
      const entry = this.#ready.shift()!;
      this.#take(entry, t);
      entry.phase = 'starting';
      void this.#start(entry);
    }
    if (this.#ready.length === 0 && this.#share.open) this.#closeShare(); // nothing left to share
  }

  #closeShare(): void {
    if (this.#shareEnd) clearTimeout(this.#shareEnd);
    this.#shareEnd = null;
    this.#share.end();
  }

  /** Opens a share window if the backlog calls for one (see BacklogShare), ended by a timer. */
  #openShare(): void {
    const slots = this.#slots;
    if (!this.#share.begin(this.#ready.length, slots.freeTotal(), slots.usableCount(), slots.perThread)) return;
    this.#shareEnd = setTimeout(() => {
      this.#closeShare();
      this.#admit();
    }, SHARE_WINDOW_MS);
  }

  /** Takes one admission of this turn's budget; false when it is spent. */
  #spendAdmission(): boolean {
    if (this.#admitBudget === 0) return false;
    this.#admitBudget--;
    this.#admitRefill ??= setImmediate(() => {
      this.#admitRefill = null;
      this.#admitBudget = ADMIT_PER_TURN;
      this.#admit();
    });
    return true;
  }

  /**
   * Starts workflows that must run alone, each on a thread where no code runs, reserved for it
   * until its attempt ends. With none idle, one thread is reserved to drain: nothing new is
   * admitted to it and its waiting workflows leave it when served.
   */
  #admitSolo(): void {
    while (this.#soloReady.length > 0 && !this.#stopped) {
      let draining: ThreadSlots | null = null;
      for (const [thread, soloist] of this.#solo) if (soloist === null) draining = thread;
      const t = draining && draining.held === 0 ? draining : this.#slots.pickIdle();
      if (!t) {
        if (!draining) {
          const drain = this.#slots.pick();
          if (drain) this.#reserve(drain, null);
        }
        return;
      }
      const entry = this.#soloReady.shift()!;
      this.#reserve(t, entry);
      this.#take(entry, t);
      entry.phase = 'starting';
      void this.#start(entry);
    }
    // nobody left to run alone (started on an idle thread, or ended): a drain is of no use
    if (this.#soloReady.length === 0) {
      for (const [thread, soloist] of this.#solo) if (soloist === null) this.#endReservation(thread);
    }
  }

  /** Ends the reservation of the thread `entry` ran alone on, if any. */
  #unreserve(entry: Entry): void {
    for (const [t, soloist] of this.#solo) {
      if (soloist === entry) return this.#endReservation(t);
    }
  }

  /** Keeps `t` for `soloist` (null: draining for whoever is next). */
  #reserve(t: ThreadSlots, soloist: Entry | null): void {
    t.reserved = true;
    this.#solo.set(t, soloist);
  }

  #endReservation(t: ThreadSlots): void {
    this.#solo.delete(t);
    t.reserved = false;
    this.#slotFreed(t);
  }

  /**
   * It recorded a step: whatever thread deaths it was at, it is not stuck on one, and if it ran
   * alone, its thread is shared again.
   */
  #progressed(entry: Entry): void {
    entry.suspicion = 0;
    if (entry.solo) {
      entry.solo = false;
      this.#unreserve(entry);
    }
  }

  /** Whether `entry` may take a slot of `t` now: a reserved thread's are its soloist's. */
  #mayTake(entry: Entry, t: ThreadSlots): boolean {
    return this.#slots.free(t) && (open(t) || (this.#slots.live(t) && this.#solo.get(t) === entry));
  }

  /** Gives `entry` a slot of `t`; a workflow holds at most one. */
  #take(entry: Entry, t: ThreadSlots): void {
    if (entry.slot) return;
    t.held++;
    entry.slot = t;
  }

  #release(entry: Entry): void {
    const t = entry.slot;
    if (!t) return;
    entry.slot = null;
    t.held--;
    this.#slotFreed(t);
  }

  /** A slot of `t` freed: deliveries waiting for this thread first, then new work. */
  #slotFreed(t: ThreadSlots): void {
    // (none onto a thread that died: the workflow waiting there would be taken for a culprit)
    while (t.wakeQueue.length > 0 && this.#slots.free(t) && open(t)) {
      t.wakeQueue.shift()!();
    }
    this.#admit();
    this.#announceFree();
  }

  /** Queue runners claim by free slots: tell them, once per turn, when some freed. */
  #announceFree(): void {
    if (this.#announcing || this.#ready.length > 0) return;
    this.#announcing = true;
    setImmediate(() => {
      this.#announcing = false;
      if (this.freeSlots() > 0 && !this.#closing) this.#o.slotsFreed?.();
    });
  }

  // ---- attempts -----------------------------------------------------------------------------

  async #start(entry: Entry): Promise<void> {
    const next = entry.next!;
    let exec: Execution | null;
    if ('input' in next) exec = next;
    else {
      await entry.recorded;
      try {
        exec = await this.#o.prepare(entry, next, () => this.#stopped);
      } catch (err) {
        this.#o.logger.error('skein: a workflow could not be loaded to run', { workflowId: entry.id, name: entry.name, error: errorField(err) });
        exec = null;
      }
    }
    entry.next = null;
    if (entry.cancelled) {
      this.#release(entry);
      this.#unreserve(entry);
      return this.#end(entry, { status: 'STOPPED', reason: 'cancelled' });
    }
    if (exec && entry.stepAttempts) exec = { ...exec, stepAttempts: entry.stepAttempts };
    if (!exec || this.#stopped) {
      this.#release(entry);
      this.#unreserve(entry);
      return this.#end(entry, { status: 'STOPPED', reason: exec ? 'shutting down' : 'not run here' });
    }
    const t = entry.slot;
    if (!t || !this.#slots.live(t) || !this.#lines.has(t.id)) {
      // Its thread died while it was loaded: admit it again, to a live one.
      this.#release(entry);
      this.#unreserve(entry);
      entry.next = exec;
      return this.#makeReady(entry);
    }
    this.#run(entry, exec, t);
  }

  /** Sends the run to thread `t`, on its line (runtime/thread-lines.ts). */
  #run(entry: Entry, exec: Execution, t: ThreadSlots): void {
    const link = this.#lines.open();
    const attempt: Attempt = {
      port: link,
      started: false,
      onEnd: new Set(),
      abandoned: false,
      inflight: new Set(),
      waits: new Map(),
      stepWatches: new Map(),
    };
    entry.attempt = attempt;
    this.#onThreads++;
    entry.phase = 'running';
    entry.thread = entry.slot;
    link.on('message', (msg: WorkerMessage) => {
      if (!attempt.abandoned) this.#onMessage(entry, attempt, msg);
    });
    const task: RunTask = { ...exec, workflowsModule: this.#o.workflowsModule, run: link.run };
    const trace = this.#o.observer.runStarted(exec);
    if (trace) task.trace = trace;
    if (this.#probes.has(entry.id)) task.probe = true;
    link.onEnd((end) => {
      if ('result' in end) void this.#ended(entry, attempt, end.result);
      else void this.#died(entry, attempt, end.error);
    });
    // (#start checked that the thread has a line; were it gone, the run ends as one that never started)
    if (!this.#lines.start(t.id, link, task)) link.fail(new Error('its thread has no line'));
  }

  /** Ends an attempt that was not given up already; false if it was. */
  #close(entry: Entry, attempt: Attempt): boolean {
    for (const watch of attempt.stepWatches.values()) watch.cancel();
    attempt.stepWatches.clear();
    endAttempt(attempt, EXECUTION_ENDED);
    attempt.port.close();
    if (attempt.abandoned) return false; // parked, or dropped at shutdown: main moved on already
    attempt.abandoned = true;
    this.#onThreads--;
    this.#notResident(entry);
    this.#release(entry);
    this.#unreserve(entry);
    return true;
  }

  /**
   * The thread of an attempt died. Who pays (module header): the attempt is counted only when
   * this workflow was running code there alone; else it goes again uncounted, after a back-off
   * if it was running code at all.
   */
  async #died(entry: Entry, attempt: Attempt, err: unknown): Promise<void> {
    // the thread it reported running on, if it started there; none for an attempt given up
    // already (it left its thread while that was full, and entry.thread is now its next one's)
    const t = attempt.started && !attempt.abandoned ? entry.thread : null;
    // read before any workflow of that thread gives its slot back
    if (t) t.heldAtDeath ??= t.held;
    const ranCode = t !== null && entry.slot !== null;
    const crashPoint = entry.crashPoint;
    entry.crashPoint = undefined;
    if (!this.#close(entry, attempt)) return;
    // at shutdown the pool's threads are ended under their runs: no death of theirs
    this.#o.observer.runEnded(entry.id, this.#closing ? { type: 'stopped', reason: 'shutting down' } : { type: 'died', reason: String(err) });
    // a checkpoint the dead thread sent may still be committing: the next attempt must see it
    if (!this.#closing) await Promise.allSettled(attempt.inflight);
    if (this.#closing) return this.#end(entry, { status: 'STOPPED', reason: `its thread died: ${err}` });
    if (entry.cancelled) return this.#end(entry, { status: 'STOPPED', reason: 'cancelled' });
    entry.attempt = null;
    entry.thread = null;
    const timedOut = entry.timedOut;
    if (timedOut) {
      // main ended the thread because one of its steps overstayed its timeout: the step's
      // retry policy decides what follows (main recorded its error if no retry was left), not
      // the blame of a crash, and no recovery attempt is counted
      entry.timedOut = undefined;
      entry.next = { how: 'wake' };
      return this.#later(entry, timedOut.retryDelayMs);
    }
    if (!ranCode) {
      entry.next = { how: 'wake' };
      return this.#makeReady(entry);
    }
    const alone = (t?.heldAtDeath ?? 1) <= 1;
    entry.suspicion++;
    entry.solo ||= entry.suspicion >= SOLO_AFTER;
    entry.next = alone ? { how: 'claim', from: 'self' } : { how: 'wake' };
    const delay = backoff(DEATH_BACKOFF_BASE_MS, DEATH_BACKOFF_MAX_MS, entry.suspicion);
    const log = crashPoint ? this.#o.logger.debug : this.#o.logger.warn;
    log.call(
      this.#o.logger,
      `skein: a workflow's thread died while it ran code ` +
        `(${alone ? 'alone: an attempt is counted' : `beside ${t!.heldAtDeath! - 1} other(s): not counted`}); ` +
        `it runs again${entry.solo ? ' alone' : ''} in ${delay} ms`,
      { workflowId: entry.id, name: entry.name, error: errorField(err) },
    );
    this.#later(entry, delay);
  }

  async #ended(entry: Entry, attempt: Attempt, result: TaskResult): Promise<void> {
    if (!this.#close(entry, attempt)) return;
    // cancelled: whatever it returned is not its outcome (handled below)
    this.#o.observer.runEnded(entry.id, entry.cancelled ? { type: 'stopped', reason: 'cancelled' } : result);
    entry.timedOut = undefined; // it returned before its thread could be ended
    if (entry.cancelled) {
      // cancelled: whatever it returned is not its outcome (the row says CANCELLED), and what
      // it still had in flight must settle before a resumed run loads its steps
      await Promise.allSettled(attempt.inflight);
      return this.#end(entry, { status: 'STOPPED', reason: 'cancelled' });
    }
    if (result.type === 'output' || result.type === 'error') {
      const completion: Completion =
        result.type === 'output'
          ? { status: 'SUCCESS', output: result.bytes, error: null }
          : { status: 'ERROR', output: null, error: result.bytes };
      let applied = false;
      try {
        entry.finishing = true;
        // after whatever the attempt still had in flight (a write it did not await), so
        // nothing of it commits after the final status
        await Promise.allSettled(attempt.inflight);
        // Not applied: it was cancelled or dead-lettered meanwhile, and that status stands.
        applied = await this.#o.finish(entry, completion);
      } catch (err) {
        this.#o.logger.error('skein: a final status was not written (the workflow stays PENDING)', { workflowId: entry.id, name: entry.name, error: errorField(err) });
      }
      return this.#end(entry, applied ? completion : { status: 'STOPPED', reason: 'no longer PENDING' });
    }
    if (result.type === 'parked' || this.#closing) {
      return this.#end(entry, { status: 'STOPPED', reason: result.type === 'parked' ? 'parked' : result.reason });
    }
    if (result.type === 'unavailable') {
      // placed on a thread without the module: no code ran, nothing is counted
      entry.attempt = null;
      entry.thread = null;
      entry.next = { how: 'wake' };
      return this.#later(entry, UNAVAILABLE_RETRY_MS);
    }
    // Stopped without `retry` (a ConflictError: its step was recorded already, maybe by its own
    // write whose acknowledgement was lost) it runs again all the same: the load below finds
    // out whether it is still this executor's, and the replay sees what was recorded.
    // A checkpoint it sent may still be committing: the next attempt must see it among the
    // recorded steps, or it would run that step again and lose the race.
    // With `retry` a request it made failed (the database refused it, or was away past what a
    // checkpoint waits out): code of it runs again, which an operator must be able to see. A
    // lost race is routine (a takeover, or its own write committed unacknowledged).
    const about = { workflowId: entry.id, name: entry.name, reason: result.reason };
    if (result.type === 'stopped' && result.retry) {
      this.#o.logger.warn('skein: a request of a running workflow failed on the database; it runs again from its last recorded step', about);
    } else this.#o.logger.debug('skein: an execution stopped and runs again', about);
    await Promise.allSettled(attempt.inflight);
    if (this.#closing) return this.#end(entry, { status: 'STOPPED', reason: 'shutting down' });
    if (result.type === 'stopped' && !result.retry) {
      // Another execution won a step: if it is alive it is likely to finish the workflow, and
      // a load made after that finds it done instead of racing it through the next steps. Not
      // an interruption, so no attempt is counted: a process cut off from the database while
      // its work was taken over runs ahead of the taker, which loses step after step, and
      // counting those would dead-letter workflows that never crashed.
      entry.next = { how: 'wake' };
      entry.attempt = null;
      entry.thread = null;
      return this.#later(entry, CONFLICT_BACKOFF_MS);
    }
    entry.next = { how: 'claim', from: 'self' };
    this.#makeReady(entry);
  }

  /** Runs `entry` again after `ms`, holding nothing meanwhile (a shutdown ends it). */
  #later(entry: Entry, ms: number): void {
    if (this.#closing) return this.#end(entry, { status: 'STOPPED', reason: 'shutting down' });
    entry.phase = 'parked';
    const timers = this.#o.waiters.timers;
    timers.at(timers.now() + ms, () => this.#wake(entry.id));
  }

  #onMessage(entry: Entry, attempt: Attempt, msg: WorkerMessage): void {
    switch (msg.type) {
      case 'thread':
        // it began on the thread it was sent to (#run set entry.thread): code may run from here
        attempt.started = true;
        return;
      case 'suspend':
        this.#suspended(entry, attempt);
        return;
      case 'resume':
        // code runs again without a reply: it needs its slot back, even over the limit (rare)
        if (!entry.slot && entry.thread) this.#take(entry, entry.thread);
        this.#notResident(entry);
        return;
      case 'stepDeadline':
        this.#watchStep(entry, attempt, msg);
        return;
      case 'probeBegan':
        this.#probes.get(entry.id)?.began(msg.stepId, msg.name);
        return;
      case 'probeRan':
        if (this.#probes.get(entry.id)?.ran(msg.stepId, msg.name)) this.#crashHere(entry);
        else attempt.port.postMessage({ type: 'reply', id: msg.id, ok: true });
        return;
      case 'checkpoint':
      case 'backoff':
        if (msg.type === 'backoff') {
          this.#o.observer.retried();
          if (msg.transactionRetry) this.#transactionRetries(entry, msg.transactionRetry);
        }
        this.#unwatchStep(entry, attempt, msg.stepId, msg.type === 'checkpoint');
        if (msg.type === 'checkpoint') this.#serve(entry, attempt, msg);
        else this.#serveWait(entry, attempt, msg);
        return;
      default:
        if (isWait(msg)) this.#serveWait(entry, attempt, msg);
        else this.#serve(entry, attempt, msg);
    }
  }

  /**
   * A transaction retries without limit on its database's failures (as DBOS does): say so at
   * its 4th, 8th, 16th... attempt, so a conflict that never clears or a datasource that stays
   * down is seen rather than silent.
   */
  #transactionRetries(entry: Entry, retry: { name: string; attempt: number; error: string }): void {
    if (retry.attempt < 4 || (retry.attempt & (retry.attempt - 1)) !== 0) return;
    this.#o.logger.warn('skein: a transaction keeps failing on its database and is retried', {
      workflowId: entry.id, name: entry.name, transaction: retry.name, attempts: retry.attempt, error: retry.error,
    });
  }

  #serve(entry: Entry, attempt: Attempt, req: Exclude<WorkerRequest, WaitRequest>): void {
    let pending = this.#o.serve(entry.id, req);
    if (req.type === 'checkpoint') {
      pending = pending.catch((err: unknown) =>
        writeCheckpointAgain(err, () => this.#o.serve(entry.id, req), this.#retryScope(entry, attempt, req)),
      );
    }
    const served = pending.then(
      (reply) => {
        this.#progressed(entry);
        if (req.type === 'checkpoint') this.#o.observer.stepRecorded(entry, req);
        // a refused child start (`thrown`) recorded nothing: no crash point there
        if (!reply?.thrown && this.#probes.get(entry.id)?.recorded(req.stepId)) return this.#crashHere(entry);
        attempt.port.postMessage({ type: 'reply', id: req.id, ok: true, ...reply });
      },
      (err) => {
        if (attempt.endedBy === undefined) {
          attempt.port.postMessage({ type: 'reply', id: req.id, ok: false, error: encodeError(err) });
        }
      },
    );
    this.#track(attempt, served);
  }

  /** What a checkpoint written again (runtime/checkpoint-retry.ts) needs of its run. */
  #retryScope(entry: Entry, attempt: Attempt, req: CheckpointMessage): RetryScope {
    return {
      // Not while closing: a run given the shutdown's grace may still finish in it. Its end
      // (the threads ended when the grace runs out) stops the writing.
      current: () => attempt.endedBy === undefined && entry.attempt === attempt && !entry.cancelled,
      onStop: (fn) => {
        const pauses = (attempt.retryPauses ??= new Set());
        attempt.onEnd.add(fn);
        pauses.add(fn);
        return () => {
          attempt.onEnd.delete(fn);
          pauses.delete(fn);
        };
      },
      timers: this.#o.waiters.timers,
      logger: this.#o.logger,
      about: { workflowId: entry.id, name: entry.name, stepId: req.stepId, step: req.name },
    };
  }

  // ---- step timeouts -------------------------------------------------------------------------

  /**
   * An attempt of a step with a timeout began: if it is still running stepKillGraceMs after its
   * deadline, its code is blocking the thread (an async one would have timed out on its own
   * timer), and the thread is ended.
   */
  #watchStep(entry: Entry, attempt: Attempt, msg: StepDeadlineMessage): void {
    attempt.stepWatches.get(msg.stepId)?.cancel();
    const timers = this.#o.waiters.timers;
    const watch = timers.at(msg.until + this.#o.stepKillGraceMs, () => {
      attempt.stepWatches.delete(msg.stepId);
      void this.#overstayed(entry, attempt, msg);
    });
    attempt.stepWatches.set(msg.stepId, watch);
  }

  #unwatchStep(entry: Entry, attempt: Attempt, stepId: number, recorded: boolean): void {
    attempt.stepWatches.get(stepId)?.cancel();
    attempt.stepWatches.delete(stepId);
    if (recorded && entry.stepAttempts) delete entry.stepAttempts[stepId];
  }

  /**
   * A step's attempt overstayed its timeout by stepKillGraceMs: the attempt failed with
   * StepTimeoutError. On its last attempt that error is recorded as the step's outcome before
   * the thread ends, so the replay throws it; otherwise the next execution goes on from the
   * next attempt after the step's back-off. The thread's other workflows recover as after any
   * thread death.
   */
  async #overstayed(entry: Entry, attempt: Attempt, msg: StepDeadlineMessage): Promise<void> {
    const t = entry.thread;
    if (entry.attempt !== attempt || attempt.abandoned || !t) return;
    const threadId = t.id;
    const graceMs = this.#o.stepKillGraceMs;
    if (entry.slot !== t || t.held > 1) {
      // Other workflows run code on this thread too: whichever blocks it also froze this step's
      // own timer, so this step cannot be told from an innocent bystander. The thread ends as
      // in a crash, charged to nobody by a timeout; the blame of thread deaths (module header)
      // runs the suspects alone, where a step that overstays again is its own culprit.
      this.#o.logger.warn(`skein: a step ran ${graceMs} ms past its timeout on a thread shared with running code; the thread is ended`, {
        workflowId: entry.id, name: entry.name, stepId: msg.stepId, step: msg.name, attempt: msg.attempt,
      });
      await this.#terminate(threadId);
      return;
    }
    this.#o.logger.warn(`skein: a step ran ${graceMs} ms past its timeout without returning; its thread is ended`, {
      workflowId: entry.id, name: entry.name, stepId: msg.stepId, step: msg.name, attempt: msg.attempt,
    });
    if (msg.last) {
      const timeout = new StepTimeoutError(
        `step '${msg.name}' (step ${msg.stepId}, attempt ${msg.attempt}) did not finish within its timeoutMs and ` +
          `blocked its thread ${graceMs} ms past it (stepKillGraceMs): the thread was ended`,
      );
      const checkpoint: CheckpointMessage = {
        type: 'checkpoint', id: 0, stepId: msg.stepId, name: msg.name, output: null, error: encodeError(timeout),
        startedAt: this.#o.waiters.timers.now(), attempts: msg.attempt, failure: failureOf(timeout),
      };
      const recorded = this.#o.serve(entry.id, checkpoint);
      this.#track(attempt, recorded);
      try {
        await recorded;
        this.#o.observer.stepRecorded(entry, checkpoint);
      } catch (err) {
        // not recorded (the database is away, or the step was recorded meanwhile): the next
        // execution runs the step again from its first attempt, or replays what was recorded
        this.#o.logger.warn('skein: the timeout of a step was not recorded', { workflowId: entry.id, error: errorField(err) });
      }
    } else {
      entry.stepAttempts = { ...entry.stepAttempts, [msg.stepId]: msg.attempt };
      this.#o.observer.retried(); // on a new thread, after the back-off
    }
    if (entry.attempt !== attempt || attempt.abandoned) return;
    entry.timedOut = { retryDelayMs: msg.last ? 0 : msg.retryDelayMs };
    await this.#terminate(threadId);
  }

  #track(attempt: Attempt, p: Promise<unknown>): void {
    attempt.inflight.add(p);
    void p.finally(() => attempt.inflight.delete(p));
  }

  // ---- waits --------------------------------------------------------------------------------

  #serveWait(entry: Entry, attempt: Attempt, req: WaitRequest): void {
    let spec: WaitSpec;
    try {
      spec = this.#o.waitSpec(entry.id, req);
    } catch (err) {
      attempt.port.postMessage({ type: 'reply', id: req.id, ok: false, error: encodeError(err) });
      return;
    }
    const records = req.type === 'recv' || req.type === 'getEvent' || req.type === 'childResult' ? req.stepId : undefined;
    this.#startWait(entry, attempt, req.id, spec, records);
    if (req.suspend) this.#suspended(entry, attempt);
    else this.#considerParking(entry, attempt);
  }

  /** Serves wait `reqId` on main (again, when a park was called off). */
  #startWait(entry: Entry, attempt: Attempt, reqId: number, spec: WaitSpec, records?: number): void {
    const stop = new AbortController();
    const onEnd = () => stop.abort(EXECUTION_ENDED);
    attempt.onEnd.add(onEnd);
    const w: Wait = { reqId, spec, stop, served: runWait(spec, this.#o.waiters, stop.signal), records };
    attempt.waits.set(reqId, w);
    const settled = w.served.then(
      (reply) => this.#waitServed(entry, attempt, w, reply),
      (err) => {
        w.parkTimer?.cancel();
        if (attempt.waits.get(reqId) !== w) return; // replaced by a restart
        attempt.waits.delete(reqId);
        if (!stop.signal.aborted && !attempt.abandoned) {
          attempt.port.postMessage({ type: 'reply', id: reqId, ok: false, error: encodeError(err) });
        }
      },
    );
    void settled.finally(() => attempt.onEnd.delete(onEnd));
    this.#track(attempt, settled);
  }

  /** The workflow's code is all waiting: it gives up its slot, and may park. */
  #suspended(entry: Entry, attempt: Attempt): void {
    this.#release(entry);
    if (this.#closing) return this.#letGo(entry, attempt);
    // one that runs alone would keep its whole thread idle while it waits: it parks at once,
    // and runs alone again when it wakes
    if (entry.solo && this.#parkable(entry, attempt)) return void this.#park(entry, attempt);
    const t = entry.thread;
    if (t) {
      let set = this.#resident.get(t.id);
      if (!set) this.#resident.set(t.id, (set = new Set()));
      set.add(entry);
      if (set.size > RESIDENT_PER_THREAD) {
        // the thread needs the room: the oldest parkable waiter leaves it
        for (const old of set) {
          if (old.attempt && this.#parkable(old, old.attempt)) {
            void this.#park(old, old.attempt);
            break;
          }
        }
      }
    }
    this.#considerParking(entry, attempt);
  }

  /** At shutdown, a waiting workflow is let go at once: it stays PENDING for the next launch. */
  #letGo(entry: Entry, attempt: Attempt): void {
    if (attempt.abandoned) return;
    void this.#leaveThread(entry, attempt, EXECUTION_ENDED).then(() => {
      this.#release(entry);
      this.#end(entry, { status: 'STOPPED', reason: 'shutting down' });
    });
  }

  /**
   * Gives up an attempt whose workflow is waiting: the worker ends its task, main ignores what
   * the attempt still sends and stops its waits. Resolves once its requests in flight settled,
   * so a next attempt loads every step this one recorded.
   */
  #leaveThread(entry: Entry, attempt: Attempt, reason: SkeinError): Promise<unknown> {
    attempt.abandoned = true;
    this.#onThreads--;
    this.#o.observer.runEnded(entry.id, reason === PARKING ? { type: 'parked' } : { type: 'stopped', reason: 'shutting down' });
    attempt.port.postMessage({ type: 'park' });
    endAttempt(attempt, reason);
    this.#notResident(entry);
    this.#unreserve(entry);
    return Promise.allSettled(attempt.inflight);
  }

  #notResident(entry: Entry): void {
    if (entry.thread) this.#resident.get(entry.thread.id)?.delete(entry);
  }

  /** The one wait a suspended workflow is in, if it can leave its thread. */
  #parkable(entry: Entry, attempt: Attempt): Wait | null {
    if (entry.slot || attempt.abandoned || attempt.waits.size !== 1 || this.#closing) return null;
    const [w] = attempt.waits.values();
    return w!.spec.parkable && !w!.stop.signal.aborted ? w! : null;
  }

  /**
   * Parks a suspended workflow whose wait outlasts `parkAfterMs`: at once when its length is
   * known (a sleep), else when the threshold passes.
   */
  #considerParking(entry: Entry, attempt: Attempt): void {
    const w = this.#parkable(entry, attempt);
    if (!w || w.parkTimer) return;
    const timers = this.#o.waiters.timers;
    const now = timers.now();
    const threshold = this.#o.parkAfterMs;
    const remaining = w.spec.until === undefined ? Infinity : w.spec.until - now;
    if (remaining <= threshold) return; // over before it would park
    if (threshold === 0 || w.spec.kind === 'time') void this.#park(entry, attempt);
    else {
      w.parkTimer = timers.at(now + threshold, () => {
        w.parkTimer = undefined;
        void this.#park(entry, attempt);
      });
    }
  }

  /**
   * Ends the workflow's task and keeps only its wake condition. The wait served on main is
   * stopped first; if a check in flight found the value meanwhile (the wake raced the park),
   * that value is delivered instead and nothing parks.
   */
  async #park(entry: Entry, attempt: Attempt): Promise<void> {
    const w = this.#parkable(entry, attempt);
    if (!w) return;
    w.parkTimer?.cancel();
    w.parkTimer = undefined;
    w.stop.abort(PARKING);
    try {
      await w.served;
      return; // served after all: #waitServed delivers it
    } catch {
      // stopped before anything was taken
    }
    if (attempt.abandoned) return;
    if (this.#closing) return this.#letGo(entry, attempt);
    // (the stopped wait is out of `waits` by now; any wait there is a new one)
    if (entry.slot || attempt.waits.size > 0) {
      // its code ran again meanwhile ('resume'): the park is off, the wait goes on
      this.#startWait(entry, attempt, w.reqId, w.spec, w.records);
      return;
    }
    // code that ran again meanwhile ('resume') is cut off: it recorded nothing more
    await this.#leaveThread(entry, attempt, PARKING);
    this.#release(entry);
    entry.attempt = null;
    entry.thread = null;
    // a shutdown began meanwhile: the parked set is closed, so let it go instead
    if (this.#closing) return this.#end(entry, { status: 'STOPPED', reason: 'shutting down' });
    // cancelled while it left its thread (the cancel found the attempt given up already)
    if (entry.cancelled) return this.#end(entry, { status: 'STOPPED', reason: 'cancelled' });
    entry.next = { how: 'wake' };
    entry.phase = 'parked';
    entry.recorded = this.#o.recordWait(entry.id, w.spec).catch((err) =>
      this.#o.logger.warn('skein: a wait record was not written (a relaunch dispatches the workflow instead)', { workflowId: entry.id, error: errorField(err) }),
    );
    this.#parked.add(entry.id, w.spec);
  }

  /** A parked workflow's condition holds: it runs again when a slot frees, and replays. */
  #wake(id: string): void {
    const entry = this.#entries.get(id);
    if (entry?.phase === 'parked') this.#makeReady(entry);
  }

  /** A wait was served while its workflow is on its thread: deliver it, with a slot. */
  #waitServed(entry: Entry, attempt: Attempt, w: Wait, reply: Reply): void {
    if (attempt.waits.get(w.reqId) === w) attempt.waits.delete(w.reqId);
    w.parkTimer?.cancel();
    // Abandoned: the outcome is recorded, and the next execution replays it.
    if (attempt.abandoned) return;
    if (w.spec.kind !== 'time') this.#progressed(entry); // it recorded what it received
    const deliver = () => {
      if (attempt.abandoned) return;
      if (w.records !== undefined && this.#probes.get(entry.id)?.recorded(w.records)) return this.#crashHere(entry);
      attempt.port.postMessage({ type: 'reply', id: w.reqId, ok: true, ...reply });
    };
    if (entry.slot) return deliver();
    this.#notResident(entry);
    const t = entry.thread;
    if (!t || !this.#slots.has(t) || this.#mayTake(entry, t)) {
      if (t && this.#slots.has(t)) this.#take(entry, t);
      return deliver();
    }
    if (w.spec.parkable && attempt.waits.size === 0) {
      // Its thread is full: rather than wait for that thread, leave it and replay on any.
      const left = this.#leaveThread(entry, attempt, PARKING);
      entry.attempt = null;
      entry.thread = null;
      entry.next = { how: 'wake' };
      void left.then(() => this.#makeReady(entry));
      return;
    }
    t.wakeQueue.push(() => {
      if (attempt.abandoned) return;
      this.#take(entry, t); // no-op if a 'resume' gave it one meanwhile
      deliver();
    });
  }

  // ---- shutdown -----------------------------------------------------------------------------

  /**
   * Stops taking work. Parked and waiting workflows are let go at once (they stay PENDING for
   * the next launch); those running, or dispatched and awaiting a slot, get until `timeoutMs`;
   * then every thread ends.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    this.#parked.close();
    for (const entry of [...this.#entries.values()]) {
      if (entry.phase === 'parked') this.#end(entry, { status: 'STOPPED', reason: 'shutting down' });
      else if (entry.phase === 'running' && !entry.slot && entry.attempt) this.#letGo(entry, entry.attempt);
    }
    const all = Promise.allSettled([...this.#entries.values()].map((e) => e.done));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.#stopped = true;
    if (this.#admitRefill) clearImmediate(this.#admitRefill);
    this.#admitRefill = null;
    this.#closeShare();
    for (const entry of [...this.#ready.drain(), ...this.#soloReady.drain()]) {
      this.#end(entry, { status: 'STOPPED', reason: 'shutting down' });
    }
    await this.#pool.destroy();
    this.#lines.close(new Error('Terminating worker thread'));
    await Promise.allSettled([...this.#entries.values()].map((e) => e.done));
  }
}
