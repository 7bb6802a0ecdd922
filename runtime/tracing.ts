// OpenTelemetry spans, made on the main thread from what it learns anyway: a run begins (the
// task is sent), a step's checkpoint committed (the worker sent its start time, attempts and
// failure with it), a run ends. Made here, they go to the one tracer provider the host service
// registered, with no telemetry setup needed on the worker threads. The run's span context goes
// to the thread with its task (threads/trace-context.ts), so spans the user's code makes there
// nest under the run.
//
// Parentage: a run's span is the child of the context that was active where the workflow was
// started in this process (a `skein.start` inside a request handler's span joins that trace),
// or, for a child workflow, of its parent's run. Parked and woken again, a workflow has one span
// per run, all under that parent. A workflow recovered in another process, or started there,
// begins a trace of its own (the context is kept in memory, not in the database).
//
// @opentelemetry/api is an optional peer dependency: without it, load() returns null and the
// dispatcher makes no call here at all.
import type * as Api from '@opentelemetry/api';
import type { CheckpointMessage, Execution, Failure } from '../common/protocol.ts';
import { formatTraceparent } from '../common/traceparent.ts';

/** Contexts kept for workflows started here and not yet run; the oldest are dropped first. */
const MAX_PARENTS = 10_000;

export type RunEnd =
  | { type: 'output' }
  | { type: 'error'; failure: Failure }
  | { type: 'parked' }
  | { type: 'stopped'; reason: string }
  | { type: 'died'; reason: string };

export class Tracing {
  readonly #api: typeof Api;
  readonly #tracer: Api.Tracer;
  readonly #executorId: string;
  /**
   * By workflow ID: the span context its runs start under. Only the IDs are kept, not the
   * caller's whole context: a caller's span (an HTTP request's, with its attributes) is not held
   * alive for a workflow that another process may dequeue and this one never hears of again.
   */
  readonly #parents = new Map<string, Api.SpanContext>();
  /** by workflow ID: the span of its run on a thread now */
  readonly #runs = new Map<string, Api.Span>();

  private constructor(api: typeof Api, executorId: string) {
    this.#api = api;
    this.#tracer = api.trace.getTracer('skein');
    this.#executorId = executorId;
  }

  /** A Tracing when @opentelemetry/api can be imported, else null. */
  static async load(executorId: string): Promise<Tracing | null> {
    try {
      const api = (await import('@opentelemetry/api')) as unknown as typeof Api;
      return new Tracing(api, executorId);
    } catch {
      return null;
    }
  }

  /**
   * A new workflow was written by this process: its runs will start under the caller's active
   * context, or under its parent's run for a child started by a workflow here.
   */
  created(id: string, parentId: string | null): void {
    const { trace, context, isSpanContextValid } = this.#api;
    const parentRun = parentId === null ? undefined : this.#runs.get(parentId);
    const sc = parentRun ? parentRun.spanContext() : trace.getSpanContext(context.active());
    if (!sc || !isSpanContextValid(sc)) return; // no trace to join: its runs start their own
    this.#parents.delete(id);
    this.#parents.set(id, sc);
    if (this.#parents.size > MAX_PARENTS) this.#parents.delete(this.#parents.keys().next().value!);
  }

  /** A run is being sent to a thread: its span starts; returns its traceparent for the task. */
  runStarted(exec: Execution): string | undefined {
    const { isSpanContextValid } = this.#api;
    const span = this.#tracer.startSpan(
      `workflow ${exec.name}`,
      {
        attributes: {
          'skein.workflow.id': exec.id,
          'skein.workflow.name': exec.name,
          'skein.workflow.attempt': exec.attempt,
          'skein.executor.id': this.#executorId,
          ...(exec.queue === undefined ? {} : { 'skein.queue': exec.queue }),
          ...(exec.steps.length > 0 ? { 'skein.workflow.replayed_steps': exec.steps.length } : {}),
        },
      },
      this.#parentContext(exec.id),
    );
    this.#runs.get(exec.id)?.end(); // a run that never reported its end (not expected)
    this.#runs.set(exec.id, span);
    const sc = span.spanContext();
    if (!isSpanContextValid(sc)) return undefined;
    return formatTraceparent(sc);
  }

  /**
   * The recorded parent, else none: not the context active here, which is whichever caller's
   * turn admitted this run (a start in one request's handler can admit another's workflow).
   */
  #parentContext(id: string): Api.Context {
    const { trace, ROOT_CONTEXT } = this.#api;
    const sc = this.#parents.get(id);
    return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
  }

  /** A step of a run here was recorded: its span, from the worker's start time to now. */
  stepRecorded(workflowId: string, workflowName: string, step: CheckpointMessage): void {
    const run = this.#runs.get(workflowId);
    if (!run) return;
    const { trace, ROOT_CONTEXT } = this.#api;
    const span = this.#tracer.startSpan(
      `step ${step.name}`,
      {
        startTime: step.startedAt,
        attributes: {
          'skein.workflow.id': workflowId,
          'skein.workflow.name': workflowName,
          'skein.step.id': step.stepId,
          'skein.step.name': step.name,
          'skein.step.attempts': step.attempts,
          'skein.executor.id': this.#executorId,
        },
      },
      trace.setSpan(ROOT_CONTEXT, run),
    );
    if (step.failure) this.#failed(span, step.failure);
    span.end();
  }

  /** A run left its thread: its span ends with how. */
  runEnded(workflowId: string, end: RunEnd): void {
    const span = this.#runs.get(workflowId);
    if (!span) return;
    this.#runs.delete(workflowId);
    const { SpanStatusCode } = this.#api;
    span.setAttribute('skein.run.end', end.type === 'output' ? 'success' : end.type);
    if (end.type === 'error') {
      this.#failed(span, end.failure);
    } else if (end.type === 'died') {
      span.setStatus({ code: SpanStatusCode.ERROR, message: `its thread died: ${end.reason}` });
    } else if (end.type === 'stopped') {
      span.setAttribute('skein.run.stopped', end.reason);
    }
    span.end();
  }

  /** A step or run that failed: an exception event and an ERROR status. */
  #failed(span: Api.Span, failure: Failure): void {
    span.recordException({ name: failure.type, message: failure.message });
    span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message: failure.message });
  }

  /** The workflow is done here (finished, or gone to another process): its context goes. */
  left(workflowId: string): void {
    this.#parents.delete(workflowId);
    this.runEnded(workflowId, { type: 'stopped', reason: 'left' });
  }
}
