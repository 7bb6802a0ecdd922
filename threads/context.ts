// WorkflowContext: what workflow code calls, on a worker thread. Every call that must survive a
// crash is numbered in call order (the step id); a replay hands back what was recorded under
// that number instead of running anything. A step's result reaches workflow code only after
// main replied that its checkpoint committed.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { now } from './clock.ts';
import type { Channel, RequestBody } from './channel.ts';
import { decodeError, decodeValue, encodeError, encodeValue, type ErrorClasses } from '../common/codec.ts';
import { failureOf } from '../common/describe.ts';
import {
  ConfigError,
  ConflictError,
  NonDeterminismError,
  SerializationError,
  SkeinError,
  StepTimeoutError,
  WorkflowCancelledError,
  type CancelReason,
} from '../common/errors.ts';
import {
  childStartStep,
  DEFAULT_WAIT_MS,
  RESERVED_STEP_PREFIX,
  STEP,
  type BackoffMessage,
  type ProbeRan,
  type RecordedStep,
  type Reply,
  type WaitRequest,
} from '../common/protocol.ts';
import { NO_RETRIES, retryDelay, retryPolicy, type RetryPolicy, type StepOptions } from '../common/retry.ts';
import { CHILD_OPTIONS, checkOptions, TRANSACTION_OPTIONS, WAIT_OPTIONS } from '../common/options.ts';
import { checkMs, checkText, MAX_ID_LENGTH, MAX_NAME_LENGTH } from '../common/validate.ts';
import {
  isWorkflow,
  type ChildHandle,
  type ChildOptions,
  type StepContext,
  type TransactionClient,
  type TransactionOptions,
  type Workflow,
  type WorkflowContext,
} from '../common/workflow.ts';
import { datasourceNames } from '../datasources/registry.ts';
import { attemptTransaction } from '../datasources/transaction.ts';
import type { WorkflowStatus } from '../common/status.ts';

/** Set while a step's function runs, so ctx calls made from inside it can be refused. */
const insideStep = new AsyncLocalStorage<string>();

/** ctx.transaction's datasource when none is named (SkeinConfig.datasources). */
export const DEFAULT_DATASOURCE = 'app';

/**
 * Pauses between attempts of a transaction that met a serialization failure, a deadlock or a
 * lost connection: short at first (a conflict clears as soon as the other transaction ends),
 * jittered so that two conflicting workflows do not retry in lockstep, never more than a second.
 */
const TRANSACTION_RETRY: RetryPolicy = Object.freeze({ retries: Infinity, baseDelayMs: 5, backoff: 2, maxDelayMs: 1000 });

/**
 * Ends a replay (RunTask.replay) at the first call its history does not have: that call and
 * everything after it would run for real, which a replay must never do.
 */
export class HistoryEnd extends Error {
  constructor(
    readonly stepId: number,
    readonly stepName: string,
  ) {
    super(`the recorded history ends before step ${stepId} ('${stepName}')`);
  }
}

/** The waits whose outcome is recorded as a step of their own: the step's name, by request type. */
const WAIT_STEP_OF: ReadonlyMap<string, string> = new Map([['recv', STEP.recv], ['getEvent', STEP.getEvent], ['childResult', STEP.getResult]]);
const WAIT_STEPS: ReadonlySet<string> = new Set(WAIT_STEP_OF.values());

/** How a run is watched: by a test's crash points, or as a replay that runs nothing new. */
export interface RunMode {
  probe?: boolean;
  replay?: boolean;
}

/** A wait request without the fields the context and channel fill in. */
type WaitBody = WaitRequest extends infer M ? (M extends WaitRequest ? Omit<M, 'id' | 'suspend'> : never) : never;

export class Context implements WorkflowContext {
  readonly workflowId: string;
  readonly #abort = new AbortController();
  readonly #recorded: ReadonlyMap<number, RecordedStep>;
  readonly #channel: Channel;
  readonly #errorClasses: ErrorClasses;
  #nextStepId = 0;
  /** why this execution must stop without recording anything (it lost ownership) */
  stopped: unknown = undefined;
  /**
   * Set when a replay met a step recorded under another name. The workflow cannot swallow it
   * (README, "Inside a workflow"): every later ctx call throws it again, and the execution ends with it (worker.ts).
   */
  #nonDeterminism: NonDeterminismError | undefined;
  // Slot bookkeeping (common/protocol.ts, WaitFields): main must know when none of this workflow's
  // code can run until a wait ends. `#busy` counts running steps and non-wait requests,
  // `#waits` outstanding waits; `#suspended` is what main was last told.
  #busy = 0;
  #waits = 0;
  #suspended = false;
  #suspendQueued = false;
  /** the workflow function returned (a losing wait of a race may still be pending) */
  #done = false;
  /** attempts used by steps whose thread main ended at their timeout (protocol Execution) */
  readonly #stepAttempts: Readonly<Record<number, number>>;
  readonly #mode: RunMode;
  #unrecordedWait: HistoryEnd | undefined;

  constructor(
    workflowId: string,
    recorded: readonly RecordedStep[],
    channel: Channel,
    errorClasses: ErrorClasses,
    stepAttempts: Readonly<Record<number, number>> = {},
    mode: RunMode = {},
  ) {
    this.workflowId = workflowId;
    this.#recorded = new Map(recorded.map((s) => [s.stepId, s]));
    this.#channel = channel;
    this.#errorClasses = errorClasses;
    this.#stepAttempts = stepAttempts;
    this.#mode = mode;
  }

  /** Step ids taken so far (a replay reports how far through its history it went). */
  get stepsCalled(): number {
    return this.#nextStepId;
  }

  /** Where a replay's history ended, if it did. */
  get historyEnd(): HistoryEnd | undefined {
    return this.stopped instanceof HistoryEnd ? this.stopped : undefined;
  }

  /**
   * A replay's first wait the history does not have (a recv that lost a race, say). It ends
   * nothing by itself: the code may go on without it. If the code only waits from then on,
   * the history ends there (threads/worker.ts).
   */
  get unrecordedWait(): HistoryEnd | undefined {
    return this.#unrecordedWait;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get nonDeterminism(): NonDeterminismError | undefined {
    return this.#nonDeterminism;
  }

  /**
   * Main cancelled this workflow (durably, already): its signal aborts, the requests it awaits
   * (a sleep, a recv, a checkpoint) throw, and every later ctx call throws the same error.
   */
  cancel(reason: CancelReason = 'cancelled'): void {
    if (this.signal.aborted) return;
    const what = reason === 'deadline' ? 'passed its deadline' : 'was cancelled';
    const err = new WorkflowCancelledError(`workflow ${this.workflowId} ${what}`, { reason });
    this.#abort.abort(err);
    this.#channel.failPending(err);
  }

  /** The workflow function returned: whatever waits remain, it will not be idle any more. */
  finish(): void {
    this.#done = true;
  }

  /** Main parked this execution: whatever still runs of it (a non-ctx callback) records nothing. */
  park(): void {
    this.stopped ??= new SkeinError(`workflow ${this.workflowId} left its thread to wait`);
  }

  async step<T>(name: string, fn: (s: StepContext) => T | Promise<T>, opts?: StepOptions): Promise<T> {
    this.#enter('step', String(name));
    this.#checkName('step', name, fn);
    return this.#step(name, fn, retryPolicy(name, opts));
  }

  /**
   * A user's step or transaction name and function, checked before its step id is taken.
   * Returns whether the next step replays under this name.
   */
  #checkName(method: 'step' | 'transaction', name: string, fn: unknown): boolean {
    // a step recorded under this very name replays whatever newer limits say: a workflow in
    // flight across an upgrade must not fail on a name its first run was allowed
    const replaying = this.#recorded.get(this.#nextStepId)?.name === name;
    // a name Postgres cannot store as given would fail its checkpoint, or replay as another
    if (!replaying) checkText(`ctx.${method} name`, name, MAX_NAME_LENGTH);
    if (!replaying && name.startsWith(RESERVED_STEP_PREFIX)) {
      throw new ConfigError(`ctx.${method} name ${JSON.stringify(name)}: names starting with '${RESERVED_STEP_PREFIX}' are skein's own`);
    }
    if (typeof fn !== 'function') throw new ConfigError(`ctx.${method}('${name}'): fn must be a function, got ${typeof fn}`);
    return replaying;
  }

  async transaction<T>(name: string, fn: (tx: TransactionClient) => Promise<T>, given?: TransactionOptions): Promise<T> {
    this.#enter('transaction', String(name));
    const replaying = this.#checkName('transaction', name, fn);
    const opts = checkOptions<TransactionOptions>(`ctx.transaction('${name}') options`, given, TRANSACTION_OPTIONS);
    const datasource = opts.datasource ?? DEFAULT_DATASOURCE;
    // a recorded transaction replays even if its datasource was renamed or removed since
    if (!replaying && !datasourceNames().includes(datasource)) {
      throw new ConfigError(
        `ctx.transaction('${name}'): no datasource '${datasource}' in SkeinConfig.datasources ` +
          `(configured: ${datasourceNames().join(', ') || 'none'})`,
      );
    }
    const stepId = this.#nextStepId++;
    const recorded = this.#replay(stepId, name);
    if (recorded) return this.#outcome<T>(recorded.output, recorded.error);

    this.#enterBusy();
    try {
      const startedAt = now();
      const call = {
        workflowId: this.workflowId, stepId, name, datasource, signal: this.signal,
        isolation: opts.isolation ?? 'read committed', readOnly: opts.readOnly ?? false,
      };
      let done: { output: Uint8Array | null; error: Uint8Array | null };
      let attempt = 1;
      for (; ; attempt++) {
        let outcome;
        this.#probe(stepId, name);
        try {
          outcome = await attemptTransaction(call, (tx) => insideStep.run(name, () => fn(tx)));
        } catch (err) {
          // the record under this step is another transaction's: the code changed meanwhile
          if (err instanceof NonDeterminismError) this.#nonDeterminism = err;
          throw err;
        }
        if (outcome.type === 'done') {
          done = outcome;
          break;
        }
        if (this.signal.aborted) throw this.signal.reason;
        const error = String((outcome.cause as Error | null)?.message ?? outcome.cause);
        await this.#backoff(stepId, now() + retryDelay(TRANSACTION_RETRY, attempt) * (0.5 + Math.random()), { name, attempt, error });
      }
      await this.#ran(stepId, name);
      await this.#checkpoint({ stepId, name, output: done.output, error: done.error, startedAt, attempts: attempt });
      return this.#outcome<T>(done.output, done.error);
    } finally {
      this.#leaveBusy();
    }
  }

  /** A step under a name already checked: a user's, or one of skein's own (protocol STEP). */
  async #step<T>(
    name: string,
    fn: (s: StepContext) => T | Promise<T>,
    policy: RetryPolicy = NO_RETRIES,
    stepId = this.#nextStepId++,
  ): Promise<T> {
    const recorded = this.#replay(stepId, name);
    if (recorded) return this.#outcome<T>(recorded.output, recorded.error);

    this.#enterBusy();
    try {
      const startedAt = now();
      let output: Uint8Array | null = null;
      let error: Uint8Array | null = null;
      let attempt = (this.#stepAttempts[stepId] ?? 0) + 1;
      for (; ; attempt++) {
        let value: T;
        this.#probe(stepId, name);
        try {
          value =
            policy.timeoutMs === undefined
              ? await insideStep.run(name, () => fn({ workflowId: this.workflowId, stepId, attempt, signal: this.signal }))
              : await this.#timed(name, fn, stepId, attempt, policy);
        } catch (err) {
          if (this.signal.aborted) throw this.signal.reason;
          if (attempt > policy.retries) {
            error = encodeError(err);
            break;
          }
          await this.#backoff(stepId, now() + retryDelay(policy, attempt));
          continue;
        }
        try {
          output = encodeValue(value, `step '${name}' result`);
        } catch (err) {
          // The step ran; recording the failure keeps it from running again on replay.
          error = encodeError(err);
        }
        break;
      }
      await this.#ran(stepId, name);
      await this.#checkpoint({ stepId, name, output, error, startedAt, attempts: attempt });
      // Both runs and replays decode what was stored, so they see exactly the same values.
      return this.#outcome<T>(output, error);
    } finally {
      this.#leaveBusy();
    }
  }

  /**
   * One attempt of a step with a timeout. Its signal aborts at the timeout and the attempt
   * fails with StepTimeoutError, whether or not the function heeds the signal. A function that
   * blocks the thread cannot see this timer: main watches the same deadline (the message
   * below) and ends the thread stepKillGraceMs after it.
   */
  async #timed<T>(name: string, fn: (s: StepContext) => T | Promise<T>, stepId: number, attempt: number, policy: RetryPolicy): Promise<T> {
    const ms = policy.timeoutMs!;
    const until = now() + ms;
    const last = attempt > policy.retries;
    this.#channel.post({
      type: 'stepDeadline', stepId, name, attempt, until, last,
      retryDelayMs: last ? 0 : retryDelay(policy, attempt),
    });
    const timeout = new StepTimeoutError(`step '${name}' (step ${stepId}, attempt ${attempt}) did not finish within its timeoutMs (${ms} ms)`);
    const abort = new AbortController();
    const onCancel = () => abort.abort(this.signal.reason);
    this.signal.addEventListener('abort', onCancel, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort(timeout);
        reject(timeout);
      }, ms);
    });
    try {
      const value = await Promise.race([
        insideStep.run(name, () => fn({ workflowId: this.workflowId, stepId, attempt, signal: abort.signal })),
        expired,
      ]);
      // a function that blocked its thread past the deadline returns before the timer can fire
      if (now() > until) throw timeout;
      return value;
    } finally {
      clearTimeout(timer);
      this.signal.removeEventListener('abort', onCancel);
    }
  }

  /** A retry's pause: served by main, so the step holds no slot meanwhile. */
  async #backoff(stepId: number, until: number, transactionRetry?: BackoffMessage['transactionRetry']): Promise<void> {
    this.#leaveBusy();
    try {
      await this.#wait({ type: 'backoff', stepId, until, transactionRetry });
    } finally {
      this.#enterBusy();
    }
    if (this.signal.aborted) throw this.signal.reason;
  }

  async now(): Promise<Date> {
    this.#enter('now');
    return new Date(await this.#step(STEP.now, () => now()));
  }

  async random(): Promise<number> {
    this.#enter('random');
    return this.#step(STEP.random, () => Math.random());
  }

  async uuid(): Promise<string> {
    this.#enter('uuid');
    return this.#step(STEP.uuid, () => randomUUID());
  }

  async sleep(ms: number): Promise<void> {
    this.#enter('sleep', String(ms));
    checkMs('ctx.sleep(ms)', ms);
    const wakeAt = await this.#step(STEP.sleep, () => now() + ms);
    // A replayCheck does not wait: what the history holds next shows whether the sleep ended.
    // It ends a turn later than anything recorded, which replays in microtasks: raced against
    // a recv that won when it ran, the recv wins again.
    if (this.#mode.replay) return void (await new Promise((r) => setTimeout(r, 0)));
    // a replay past the wake-up time goes straight on
    if (wakeAt > now()) await this.#wait({ type: 'sleep', stepId: this.#nextStepId, until: wakeAt });
  }

  async send<T>(destinationId: string, message: T, topic?: string): Promise<void> {
    this.#enter('send', String(destinationId));
    const dest = checkText('ctx.send destinationId', destinationId, MAX_ID_LENGTH);
    const t = checkText('ctx.send topic', topic, MAX_NAME_LENGTH, true) ?? '';
    const stepId = this.#nextStepId++;
    if (this.#replay(stepId, STEP.send)) return;
    const bytes = encodeValue(message, `message to ${dest}`);
    await this.#request({ type: 'send', stepId, destinationId: dest, topic: t, message: bytes });
  }

  async recv<T>(topic?: string, opts?: { timeoutMs?: number }): Promise<T | null> {
    this.#enter('recv', String(topic ?? ''));
    const t = checkText('ctx.recv topic', topic, MAX_NAME_LENGTH, true) ?? '';
    const { timeoutMs = DEFAULT_WAIT_MS } = checkOptions<{ timeoutMs?: number }>('ctx.recv options', opts, WAIT_OPTIONS);
    // Both step ids are taken now, in call order. Taken once the deadline is recorded, the
    // recv's would depend on timing when calls race (Promise.race of a sleep and a recv): the
    // sleep ending first gives the next call the id, and a replay, where nothing waits,
    // numbers them the other way and meets a step recorded under another name.
    const deadlineId = this.#nextStepId++;
    const stepId = this.#nextStepId++;
    // the deadline is recorded, so a recovered recv waits only for the time that remains
    const deadline = await this.#step(STEP.recvDeadline, () => now() + timeoutMs, NO_RETRIES, deadlineId);
    const recorded = this.#replay(stepId, STEP.recv);
    if (recorded) return this.#outcome<T | null>(recorded.output, recorded.error);
    const { value } = await this.#wait({ type: 'recv', stepId, topic: t, deadline });
    return decodeValue<T | null>(value!);
  }

  async setEvent<T>(key: string, value: T): Promise<void> {
    this.#enter('setEvent', String(key));
    const k = checkText('ctx.setEvent key', key, MAX_NAME_LENGTH);
    const stepId = this.#nextStepId++;
    if (this.#replay(stepId, STEP.setEvent)) return;
    const bytes = encodeValue(value, `event '${k}'`);
    await this.#request({ type: 'setEvent', stepId, key: k, value: bytes });
  }

  async getEvent<T>(workflowId: string, key: string, opts?: { timeoutMs?: number }): Promise<T | null> {
    this.#enter('getEvent', String(key));
    const target = checkText('ctx.getEvent workflowId', workflowId, MAX_ID_LENGTH);
    const k = checkText('ctx.getEvent key', key, MAX_NAME_LENGTH);
    const { timeoutMs = DEFAULT_WAIT_MS } = checkOptions<{ timeoutMs?: number }>('ctx.getEvent options', opts, WAIT_OPTIONS);
    // both ids now, in call order (see recv)
    const deadlineId = this.#nextStepId++;
    const stepId = this.#nextStepId++;
    const deadline = await this.#step(STEP.getEventDeadline, () => now() + timeoutMs, NO_RETRIES, deadlineId);
    const recorded = this.#replay(stepId, STEP.getEvent);
    if (recorded) return this.#outcome<T | null>(recorded.output, recorded.error);
    const { value } = await this.#wait({ type: 'getEvent', stepId, workflowId: target, key: k, deadline });
    return decodeValue<T | null>(value!);
  }

  async startWorkflow<I, O>(wf: Workflow<I, O>, input: I, given?: ChildOptions): Promise<ChildHandle<O>> {
    if (!isWorkflow(wf)) throw new ConfigError('ctx.startWorkflow needs a workflow made by workflow()');
    this.#enter('startWorkflow', wf.name);
    const opts = checkOptions<ChildOptions>('ctx.startWorkflow options', given, CHILD_OPTIONS);
    const stepName = childStartStep(wf.name);
    const stepId = this.#nextStepId++;
    const recorded = this.#replay(stepId, stepName);
    // a start refused after its step committed (the ID was another workflow's) is refused again
    if (recorded?.error) throw decodeError(recorded.error, this.#errorClasses);
    const childId = recorded?.childWorkflowId ?? opts.id ?? `${this.workflowId}-${stepId}`;
    if (!recorded) {
      const { priority, queue, dedupId, timeoutMs, delayMs, startAt, partitionKey } = opts;
      const bytes = encodeValue(input, `input of workflow '${wf.name}'`);
      const { thrown } = await this.#request({
        type: 'startChild', stepId, stepName, childId, name: wf.name, input: bytes,
        queue, priority, dedupId, timeoutMs, delayMs, startAt: startAt?.getTime(), partitionKey,
      });
      // a refused start (undeclared queue, held dedupId) records nothing and throws here
      if (thrown) throw decodeError(thrown, this.#errorClasses);
    }
    return {
      id: childId,
      result: () => this.#readChild('childResult', childId) as Promise<O>,
      status: () => this.#readChild('childStatus', childId) as Promise<WorkflowStatus | null>,
    };
  }

  /** A recorded read of another workflow: its result (or error) or its status. */
  async #readChild(type: 'childResult' | 'childStatus', childId: string): Promise<unknown> {
    const name = type === 'childResult' ? STEP.getResult : STEP.getStatus;
    this.#enter(name, childId);
    const stepId = this.#nextStepId++;
    const recorded = this.#replay(stepId, name);
    if (recorded) return this.#outcome(recorded.output, recorded.error);
    const { value, thrown } =
      type === 'childResult'
        ? await this.#wait({ type, stepId, childId })
        : await this.#request({ type, stepId, childId });
    return this.#outcome(value ?? null, thrown ?? null);
  }

  #enter(method: string, detail?: string): void {
    const step = insideStep.getStore();
    if (step !== undefined) {
      throw new SkeinError(
        `ctx.${method}(${detail === undefined ? '' : `'${detail}'`}) was called inside step '${step}': ` +
          `steps cannot call the workflow context`,
      );
    }
    if (this.stopped !== undefined) throw this.stopped;
    if (this.#nonDeterminism) throw this.#nonDeterminism;
    if (this.signal.aborted) throw this.signal.reason;
  }

  #replay(stepId: number, name: string): RecordedStep | undefined {
    const recorded = this.#recorded.get(stepId);
    // a wait without a record replays as one never answered (#send); anything else ends the replay
    if (!recorded && this.#mode.replay && !WAIT_STEPS.has(name)) throw (this.stopped ??= new HistoryEnd(stepId, name));
    if (recorded && recorded.name !== name) {
      this.#nonDeterminism = new NonDeterminismError(
        `workflow ${this.workflowId}, step ${stepId}: recorded as '${recorded.name}' ` +
          `but the code now calls '${name}'`,
      );
      throw this.#nonDeterminism;
    }
    return recorded;
  }

  /** Tells a test watching this run (RunTask.probe) that a step's function begins. */
  #probe(stepId: number, name: string): void {
    if (this.#mode.probe) this.#channel.post({ type: 'probeBegan', stepId, name });
  }

  /**
   * A watched run's step function is done, its checkpoint not yet sent: the test may end the
   * thread here (a crash "mid-step": the step's effects happened, its record did not).
   */
  async #ran(stepId: number, name: string): Promise<void> {
    if (this.#mode.probe) await this.#request({ type: 'probeRan', stepId, name });
  }

  #outcome<T>(output: Uint8Array | null, error: Uint8Array | null): T {
    if (error) throw decodeError(error, this.#errorClasses);
    return output ? decodeValue<T>(output) : (undefined as T);
  }

  #checkpoint(step: {
    stepId: number;
    name: string;
    output: Uint8Array | null;
    error: Uint8Array | null;
    startedAt: number;
    attempts: number;
  }): Promise<Reply> {
    // the failure in plain words, for main's traces: decoded here, off the main thread
    const failure = step.error ? failureOf(decodeError(step.error, this.#errorClasses)) : undefined;
    return this.#request({ type: 'checkpoint', ...step, failure });
  }

  #enterBusy(): void {
    if (this.#suspended) {
      // code runs again though no reply woke it: take a slot back
      this.#suspended = false;
      this.#channel.post({ type: 'resume' });
    }
    this.#busy++;
  }

  #leaveBusy(): void {
    this.#busy--;
    if (this.#busy === 0 && this.#waits > 0) this.#suspendLater();
  }

  /**
   * Tells main that only waits remain, once the code that a reply or a finished step resumed
   * has run to its next await: decided now, the continuation after the await (which may start
   * a step) would run with main believing the workflow idle, and main may park it meanwhile.
   */
  #suspendLater(): void {
    if (this.#suspendQueued) return;
    this.#suspendQueued = true;
    setImmediate(() => {
      this.#suspendQueued = false;
      if (this.#busy === 0 && this.#waits > 0 && !this.#suspended && this.stopped === undefined && !this.#done) {
        this.#suspended = true;
        this.#channel.post({ type: 'suspend' });
      }
    });
  }

  /** A request that waits for something outside: this workflow may hold no slot meanwhile. */
  async #wait(body: WaitBody): Promise<Reply> {
    this.#waits++;
    const suspend = this.#busy === 0 && !this.#suspended;
    if (suspend) this.#suspended = true;
    try {
      return await this.#send({ ...body, suspend } as RequestBody);
    } finally {
      // main gave a slot back before it replied
      this.#suspended = false;
      this.#waits--;
      // others still waiting and nothing else running: say so, after the continuation ran
      if (this.#busy === 0 && this.#waits > 0) this.#suspendLater();
    }
  }

  /** A request that keeps this workflow running (a checkpoint, a send...). */
  async #request(body: RequestBody | Omit<ProbeRan, 'id'>): Promise<Reply> {
    this.#enterBusy();
    try {
      return await this.#send(body);
    } finally {
      this.#leaveBusy();
    }
  }

  async #send(body: RequestBody | Omit<ProbeRan, 'id'>): Promise<Reply> {
    // A stopped execution records nothing more, not even a step that was already running when
    // it stopped (Promise.all): it lost the workflow, and its record could collide with the
    // winner's. A non-deterministic one neither: it ends as ERROR whatever it does next.
    if (this.stopped !== undefined) throw this.stopped;
    if (this.#nonDeterminism) throw this.#nonDeterminism;
    // a replay asks main for nothing: every call it makes is in its history (#replay), but a
    // wait it has no record of, which stays unanswered: the code may not need it (a race)
    if (this.#mode.replay) {
      const wait = 'stepId' in body && WAIT_STEP_OF.get(body.type);
      if (!wait) throw (this.stopped = new HistoryEnd(this.#nextStepId, body.type));
      this.#unrecordedWait ??= new HistoryEnd(body.stepId, wait);
      return new Promise<Reply>(() => {});
    }
    // cancelled: nothing new starts (a checkpoint of a step that finished anyway is still sent,
    // from #step, before this check: see below)
    if (this.signal.aborted && body.type !== 'checkpoint') throw this.signal.reason;
    try {
      return await this.#channel.request(body);
    } catch (err) {
      // cancelled: the workflow's code sees the cancellation (also when its checkpoint was
      // refused because the row says CANCELLED), and the execution is not stopped for a retry
      if (this.signal.aborted) throw this.signal.reason;
      // Refused for what it carries (Postgres cannot store it as given): nothing was written,
      // and a replay making the same call is refused the same way. The workflow's own error,
      // thrown to its code, not a reason to run it again.
      if (err instanceof SerializationError) throw err;
      // Not durable, so nothing of it may reach workflow code. Whatever the cause (another
      // execution won the step, the database failed), this execution stops; the workflow stays
      // PENDING and runs again from its last committed step.
      this.stopped =
        err instanceof ConflictError
          ? err
          : new SkeinError(`${body.type} of step ${'stepId' in body ? body.stepId : this.#nextStepId} failed: ${err}`, { cause: err });
      throw this.stopped;
    }
  }
}
