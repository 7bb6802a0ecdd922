// What a Skein (which runs workflows) and a Client (which only talks to them) share: sending
// messages, reading events, and following workflows through handles, status and lists. Runs on
// the caller's thread; payloads are encoded and decoded here because the caller asked.
import type { Pool } from '../storage/database.ts';
import { notifyOp, readEvent, wakeKey } from '../storage/messages.ts';
import { loadSteps } from '../storage/steps.ts';
import { listExecutors, type ExecutorInfo } from '../storage/executors.ts';
import { queueSummaries, type QueueSummary } from '../storage/queue-summary.ts';
import { getWorkflow, listWorkflows } from '../storage/workflows.ts';
import { OutcomeReads } from './outcome-reads.ts';
import type { GroupCommitWriter } from '../storage/writer.ts';
import { decodeValue, encodeError, encodeValue, type ErrorClasses } from '../common/codec.ts';
import { cancelWorkflowTree } from '../storage/cancel.ts';
import { DEFAULT_WAIT_MS } from '../common/protocol.ts';
import { SkeinError, TimeoutError, WorkflowCancelledError, type CancelReason } from '../common/errors.ts';
import {
  CANCEL_OPTIONS,
  checkOptions,
  checkPriority,
  DELETE_OPTIONS,
  FORK_OPTIONS,
  RETENTION,
  SEND_OPTIONS,
  WAIT_OPTIONS,
} from '../common/options.ts';
import type { Retention } from './config.ts';
import * as manage from './manage.ts';
import * as schedules from './schedules.ts';
import { garbageCollect } from './retention.ts';
import { checkText, MAX_ID_LENGTH, MAX_NAME_LENGTH } from '../common/validate.ts';
import type { Completion } from './dispatcher.ts';
import { Handle, type HandleSource, type WorkflowHandle } from './handle.ts';
import { validateListFilter, type ListFilter } from './options.ts';
import { settle, type Outcome } from './outcome.ts';
import { TERMINAL, toStepInfo, toWorkflowStatus, type StepInfo, type WorkflowStatus } from './status.ts';
import type { Waiters } from './waiters.ts';

/** What the hooks are told of a new workflow row. */
export interface CreatedWorkflow {
  id: string;
  parentId: string | null;
  /** set on a schedule's runs */
  scheduleId?: string | null;
}

export interface CommonParts {
  pool: Pool;
  schema: string;
  writer: GroupCommitWriter;
  waiters: Waiters;
  errorClasses: ErrorClasses;
  /** how far a test clock runs ahead of the real one (common/clock.ts); 0 without one */
  shiftMs?: () => number;
}

export abstract class CommonApi implements HandleSource {
  // private, reached through a getter: an own field would put the pools, and in them the
  // connection string with its password, into every util.inspect of a Skein or Client
  readonly #parts: CommonParts;
  /** set once closing began: every call from then on raises a SkeinError saying so */
  #closedReason: string | null = null;
  /** result()'s reads of one turn, in one statement */
  readonly #outcomes: OutcomeReads;

  protected constructor(parts: CommonParts) {
    this.#parts = parts;
    this.#outcomes = new OutcomeReads(parts.pool, parts.schema);
  }

  protected get parts(): CommonParts {
    return this.#parts;
  }

  /**
   * From now on every call raises a SkeinError with `reason`, instead of reaching a pool that
   * is closing (pg's "Cannot use a pool after calling end on the pool").
   */
  protected markClosed(reason: string): void {
    this.#closedReason ??= reason;
  }

  protected assertOpen(): void {
    if (this.#closedReason !== null) throw new SkeinError(this.#closedReason);
  }

  /** The completion of a workflow running in this process, if any (a Skein overrides it). */
  protected localCompletion(_id: string): Promise<Completion> | undefined {
    return undefined;
  }

  /** As localCompletion, for a workflow whose final status this process is writing now. */
  protected localFinish(_id: string): Promise<Completion> | undefined {
    return undefined;
  }

  /** Sends a message; with an idempotency key, repeated sends deliver it once. */
  async send<T>(destinationId: string, message: T, topic?: string, opts?: { idempotencyKey?: string | undefined }): Promise<void> {
    this.assertOpen();
    const dest = checkText('send destinationId', destinationId, MAX_ID_LENGTH);
    const t = checkText('send topic', topic, MAX_NAME_LENGTH, true) ?? '';
    const key = checkOptions<{ idempotencyKey?: string }>('send options', opts, SEND_OPTIONS).idempotencyKey ?? null;
    const bytes = encodeValue(message, `message to ${dest}`);
    await this.parts.writer.write([
      { kind: 'sendMessage', row: { destinationId: dest, topic: t, message: bytes, idempotencyKey: key } },
      notifyOp(this.parts.schema, wakeKey.message(dest, t)),
    ]);
  }

  /** The latest value of a workflow's event, waiting up to `timeoutMs` for it to exist. */
  async getEvent<T>(workflowId: string, key: string, opts?: { timeoutMs?: number | undefined }): Promise<T | null> {
    this.assertOpen();
    const id = checkText('getEvent workflowId', workflowId, MAX_ID_LENGTH);
    const k = checkText('getEvent key', key, MAX_NAME_LENGTH);
    const { timeoutMs = DEFAULT_WAIT_MS } = checkOptions<{ timeoutMs?: number }>('getEvent options', opts, WAIT_OPTIONS);
    const deadline = this.parts.waiters.timers.now() + timeoutMs;
    const { pool, schema, waiters } = this.parts;
    const read = async () => (await readEvent(pool, schema, id, k)) ?? undefined;
    const bytes = await waiters.wait(wakeKey.event(id, k), read, { deadline });
    return bytes ? decodeValue<T>(bytes) : null;
  }

  retrieve<O = unknown>(id: string): WorkflowHandle<O> {
    this.assertOpen();
    checkText('retrieve id', id, MAX_ID_LENGTH);
    return new Handle<O>(id, this);
  }

  /** The workflow's output or its error, once it ends; woken by its completion NOTIFY. */
  async awaitResult<O>(id: string, opts?: { timeoutMs?: number | undefined }): Promise<O> {
    this.assertOpen();
    checkText('awaitResult id', id, MAX_ID_LENGTH);
    const { timeoutMs } = checkOptions<{ timeoutMs?: number }>('result options', opts, WAIT_OPTIONS);
    if (timeoutMs === undefined) return settle<O>(id, await this.outcome(id), this.parts.errorClasses);
    // Through the database and its completion NOTIFY, not the local completion: a waiter is
    // removed at its deadline (a reaction on a local promise would stay until the workflow
    // ends, one per call), and its first read runs before the deadline can fire, so a finished
    // workflow answers even with timeoutMs 0. The workflow itself runs on either way.
    const outcome = await this.#awaitOutcome(id, { deadline: this.parts.waiters.timers.now() + timeoutMs });
    if (!outcome) {
      throw new TimeoutError(`workflow ${id} did not finish within ${timeoutMs} ms (result options.timeoutMs); it goes on running`);
    }
    return settle<O>(id, outcome, this.parts.errorClasses);
  }

  /**
   * The terminal outcome of workflow `id`, still encoded: awaited directly when it runs in
   * this process, else read when its completion NOTIFY (or a re-check) says it ended.
   */
  protected async outcome(id: string, signal?: AbortSignal): Promise<Outcome> {
    const local = this.localCompletion(id);
    const c = local && (await local.catch(() => undefined));
    if (c && c.status !== 'STOPPED') {
      return { status: c.status, output: c.output as Buffer | null, error: c.error as Buffer | null };
    }
    const outcome = (await this.#awaitOutcome(id, { signal }))!;
    // Run here after all (claimed from a queue after the call began): its commit woke this read
    // while the run's own end, written by the same commit, was a turn or two from being counted
    // here (metrics, hooks). result() returns after that, as it does for a workflow it found
    // running here.
    const finishing = outcome.status === 'SUCCESS' || outcome.status === 'ERROR' ? this.localFinish(id) : undefined;
    if (finishing) await finishing.catch(() => undefined);
    return outcome;
  }

  /** The outcome once its completion NOTIFY (or a re-check) says it ended; undefined at a deadline. */
  #awaitOutcome(id: string, opts: { signal?: AbortSignal; deadline?: number }): Promise<Outcome | undefined> {
    return this.parts.waiters.wait(
      wakeKey.done(id),
      async () => {
        const row = await this.#outcomes.read(id);
        if (!row) throw new SkeinError(`no workflow with ID '${id}'`);
        return TERMINAL.has(row.status) ? row : undefined;
      },
      opts,
    );
  }

  async getStatus(id: string): Promise<WorkflowStatus | null> {
    this.assertOpen();
    checkText('getStatus id', id, MAX_ID_LENGTH);
    const row = await getWorkflow(this.parts.pool, this.parts.schema, id);
    return row && toWorkflowStatus(row, this.parts.errorClasses);
  }

  async listWorkflows(filter: ListFilter = {}): Promise<WorkflowStatus[]> {
    this.assertOpen();
    const rows = await listWorkflows(this.parts.pool, this.parts.schema, validateListFilter(filter));
    return rows.map((r) => toWorkflowStatus(r, this.parts.errorClasses));
  }

  /**
   * Every executor registered on this schema, alive or not (README "Running many processes"):
   * alive while it holds its registry lock and heartbeats within its lease.
   */
  async listExecutors(): Promise<ExecutorInfo[]> {
    this.assertOpen();
    return listExecutors(this.parts.pool, this.parts.schema);
  }

  /**
   * Every queue with workflows waiting or running, across all processes: due, delayed, and
   * running (by executor). A queue with neither is not listed: queues are declared per process.
   */
  async listQueues(): Promise<QueueSummary[]> {
    this.assertOpen();
    return queueSummaries(this.parts.pool, this.parts.schema);
  }

  async getWorkflowSteps(id: string): Promise<StepInfo[]> {
    this.assertOpen();
    checkText('getWorkflowSteps id', id, MAX_ID_LENGTH);
    const rows = await loadSteps(this.parts.pool, this.parts.schema, id);
    return rows.map((r) => toStepInfo(r, this.parts.errorClasses));
  }

  // ---- managing workflows (README "Managing workflows") ------------------------------------

  /** The app version forks default to: a Skein's own; null (the original's) for a Client. */
  protected get forkVersion(): string | null {
    return null;
  }

  /**
   * Cancels a workflow and its children, durably: an ENQUEUED one never starts; a running one
   * stops at its next ctx call (its signal aborts). With `force`, a step that has not returned
   * within stepKillGraceMs has its thread ended. A finished workflow is left as it is.
   */
  async cancelWorkflow(id: string, opts?: { force?: boolean | undefined }): Promise<void> {
    this.assertOpen();
    checkText('cancelWorkflow id', id, MAX_ID_LENGTH);
    const { force = false } = checkOptions<{ force?: boolean }>('cancelWorkflow options', opts, CANCEL_OPTIONS);
    await this.cancelTree(id, 'cancelled', force);
  }

  /**
   * Cancels `id` and its descendants durably (the statement NOTIFYs whoever runs them), then
   * tells this process's own runs at once rather than through its own NOTIFY.
   */
  protected async cancelTree(id: string, reason: CancelReason, force: boolean): Promise<void> {
    const what = reason === 'deadline' ? 'passed its deadline' : 'was cancelled';
    const errors = {
      root: encodeError(new WorkflowCancelledError(`workflow ${id} ${what}`, { reason })),
      child: encodeError(new WorkflowCancelledError(`workflow ${id}, an ancestor of this one, ${what}`, { reason })),
    };
    const rows = await cancelWorkflowTree(this.parts.pool, this.parts.schema, id, errors, reason, force);
    for (const row of rows) this.cancelledHere(row.id, reason, force);
  }

  /** A workflow was cancelled: stop it if it runs in this process (a Skein overrides it). */
  protected cancelledHere(_id: string, _reason: CancelReason, _force: boolean): void {}

  #manageDeps(): manage.ManageDeps {
    const { pool, schema } = this.parts;
    return { pool, schema, appVersion: this.forkVersion, cancel: (id) => this.cancelWorkflow(id) };
  }

  /** Runs a CANCELLED, dead-lettered or ENQUEUED workflow again from its last completed step. */
  async resumeWorkflow<O = unknown>(id: string): Promise<WorkflowHandle<O>> {
    this.assertOpen();
    checkText('resumeWorkflow id', id, MAX_ID_LENGTH);
    await manage.resumeWorkflow(this.#manageDeps(), id);
    return this.retrieve<O>(id);
  }

  /** A new workflow with the same name and input, whose steps below `startStep` are copied. */
  async forkWorkflow<O = unknown>(id: string, opts?: manage.ForkOptions): Promise<WorkflowHandle<O>> {
    this.assertOpen();
    checkText('forkWorkflow id', id, MAX_ID_LENGTH);
    const o = checkOptions<manage.ForkOptions>('forkWorkflow options', opts, FORK_OPTIONS);
    const newId = await manage.forkWorkflow(this.#manageDeps(), id, o);
    this.workflowCreated({ id: newId, parentId: null });
    return this.retrieve<O>(newId);
  }

  /** forkWorkflow from step 0. */
  restartWorkflow<O = unknown>(id: string): Promise<WorkflowHandle<O>> {
    return this.forkWorkflow<O>(id, { startStep: 0 });
  }

  /** Deletes a workflow's row, steps, messages to it and events (a running one is cancelled first). */
  async deleteWorkflow(id: string, opts?: { children?: boolean | undefined }): Promise<void> {
    this.assertOpen();
    checkText('deleteWorkflow id', id, MAX_ID_LENGTH);
    const o = checkOptions<{ children?: boolean }>('deleteWorkflow options', opts, DELETE_OPTIONS);
    await manage.deleteWorkflow(this.#manageDeps(), id, o);
  }

  /** Re-orders an ENQUEUED workflow within its queue. */
  async setWorkflowPriority(id: string, priority: number): Promise<void> {
    this.assertOpen();
    checkText('setWorkflowPriority id', id, MAX_ID_LENGTH);
    checkPriority('setWorkflowPriority priority', priority);
    await manage.setWorkflowPriority(this.#manageDeps(), id, priority);
  }

  /**
   * Creates a schedule stored in Postgres: from its next tick on, whichever live process has
   * the workflow runs it once per tick. ConflictError if the ID is taken.
   */
  async createSchedule(opts: schedules.ScheduleOptions): Promise<void> {
    this.assertOpen();
    await schedules.createSchedule(this.#scheduleDeps(), opts, (queue) => this.checkScheduleQueue(queue));
  }

  /**
   * Refuses a schedule's queue that cannot take its runs. A Client accepts any (a process it
   * does not know may serve it); a Skein knows its own queues.
   */
  protected checkScheduleQueue(_queue: string): void {}

  async listSchedules(): Promise<schedules.ScheduleInfo[]> {
    this.assertOpen();
    return schedules.listSchedules(this.#scheduleDeps());
  }

  async pauseSchedule(id: string): Promise<void> {
    this.assertOpen();
    await schedules.pauseSchedule(this.#scheduleDeps(), id);
  }

  /** Resumes from the next tick; ticks missed while paused are not run (backfill runs them). */
  async resumeSchedule(id: string): Promise<void> {
    this.assertOpen();
    await schedules.resumeSchedule(this.#scheduleDeps(), id);
  }

  /** Deletes a schedule; the runs it started stay. */
  async deleteSchedule(id: string): Promise<void> {
    this.assertOpen();
    await schedules.deleteSchedule(this.#scheduleDeps(), id);
  }

  /** One run of the schedule now (paused or not). */
  async triggerSchedule<O = unknown>(id: string): Promise<WorkflowHandle<O>> {
    this.assertOpen();
    return this.retrieve<O>(await schedules.triggerSchedule(this.#scheduleDeps(), id, this.starterId));
  }

  /** Runs every tick from `from` to `to` (both included) once; ticks that already ran are not repeated. */
  async backfillSchedule<O = unknown>(id: string, from: Date, to: Date): Promise<WorkflowHandle<O>[]> {
    this.assertOpen();
    const ids = await schedules.backfillSchedule(this.#scheduleDeps(), id, from, to, this.starterId);
    return ids.map((runId) => this.retrieve<O>(runId));
  }

  #scheduleDeps(): schedules.ScheduleDeps {
    const { pool, schema, writer, shiftMs } = this.parts;
    return { pool, schema, writer, shiftMs: shiftMs?.() ?? 0, created: (row) => this.workflowCreated(row) };
  }

  /** A workflow row this object wrote (a Skein counts it, and its runs join the caller's trace). */
  protected workflowCreated(_w: CreatedWorkflow): void {}

  /** The executor ID recorded on workflows this object enqueues for others to run. */
  protected get starterId(): string {
    return 'client';
  }

  /**
   * Deletes finished workflows (with their steps, messages and events) that finished more than
   * `completedAfterMs` ago, or beyond the newest `maxRows`. A Skein defaults to config.retention.
   */
  async garbageCollect(opts?: Retention): Promise<{ deleted: number }> {
    this.assertOpen();
    const o = checkOptions<Retention>('garbageCollect options', opts ?? this.defaultRetention(), RETENTION);
    return garbageCollect(this.parts.pool, this.parts.schema, o, undefined, this.rateWindowMs());
  }

  /** The longest rate-limit period of the queues known here: retention keeps their recent starts. */
  protected rateWindowMs(): number {
    return 0;
  }

  /** What garbageCollect() deletes without options. */
  protected defaultRetention(): Retention | undefined {
    return undefined;
  }

  /** Flushes pending writes and closes the listener and the pool. */
  protected async closeCommon(): Promise<void> {
    await this.parts.writer.idle();
    await this.parts.waiters.close();
    await this.parts.pool.end();
  }
}
