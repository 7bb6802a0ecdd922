// What the dispatcher reports about runs, steps and threads, fanned out to the counters of
// metrics() and, when @opentelemetry/api is installed, to spans. Every call is O(1) and reads
// no payload: the worker sends a failure's type and message in plain words with it.
import type { CheckpointMessage, Execution, TaskResult } from '../common/protocol.ts';
import type { CreatedWorkflow } from './common-api.ts';
import type { Completion } from './dispatcher.ts';
import type { Counters } from './metrics.ts';
import type { RunEnd, Tracing } from './tracing.ts';

export class Observer {
  readonly counters: Counters;
  readonly #tracing: Tracing | null;

  constructor(counters: Counters, tracing: Tracing | null) {
    this.counters = counters;
    this.#tracing = tracing;
  }

  /** A new workflow row was written by this process. */
  created(row: CreatedWorkflow): void {
    this.counters.workflowsStarted++;
    // a schedule's tick has no caller: the context active in a timer's turn is whoever armed it
    if (!row.scheduleId) this.#tracing?.created(row.id, row.parentId);
  }

  /** A run goes to a thread; returns the traceparent its code runs under. */
  runStarted(exec: Execution): string | undefined {
    return this.#tracing?.runStarted(exec);
  }

  /** A step's checkpoint committed. */
  stepRecorded(workflow: { id: string; name: string }, step: CheckpointMessage): void {
    this.counters.steps++;
    if (step.error) this.counters.stepErrors++;
    this.#tracing?.stepRecorded(workflow.id, workflow.name, step);
  }

  /** A step or transaction backs off before another try. */
  retried(): void {
    this.counters.retries++;
  }

  /** A run left its thread: its task's result, or how main ended it. */
  runEnded(id: string, end: TaskResult | RunEnd): void {
    if (!this.#tracing) return;
    // a task that found no module on its thread ran no code: stopped, to run again elsewhere
    this.#tracing.runEnded(id, end.type === 'unavailable' ? { type: 'stopped', reason: end.reason } : end);
  }

  /** The workflow is done with here: `c` says how (parked ones come back through the dispatcher). */
  ended(id: string, c: Completion): void {
    if (c.status !== 'STOPPED') this.counters.finished[c.status]++;
    else if (c.reason === 'cancelled') this.counters.finished.CANCELLED++;
    if (c.status !== 'STOPPED' || c.reason !== 'parked') this.#tracing?.left(id);
  }

  threadDied(): void {
    this.counters.threadDeaths++;
  }

  deadLettered(): void {
    this.counters.finished.MAX_RECOVERY_ATTEMPTS_EXCEEDED++;
  }
}
