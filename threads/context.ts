// WorkflowContext: what workflow code calls, on a worker thread. Every call that must survive a
// crash is numbered in call order (the step id); a replay hands back what was recorded under
// that number instead of running anything. A step's result reaches workflow code only after
// main replied that its checkpoint committed.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Channel } from './channel.ts';
import { decodeError, decodeValue, encodeError, encodeValue, type ErrorClasses } from './codec.ts';
import {
  ConflictError,
  NonDeterminismError,
  SkeinError,
  WorkflowCancelledError,
} from './errors.ts';
import type { RecordedStep } from './protocol.ts';
import { delay, retryDelay, retryPolicy, type StepOptions } from './retry.ts';

export type { StepOptions } from './retry.ts';

export interface StepContext {
  readonly workflowId: string;
  readonly stepId: number;
  /** 1-based */
  readonly attempt: number;
  /** aborted when the workflow is cancelled or passes its deadline */
  readonly signal: AbortSignal;
}

export interface WorkflowContext {
  readonly workflowId: string;
  /** aborted when this workflow is cancelled or passes its deadline */
  readonly signal: AbortSignal;
  step<T>(name: string, fn: (s: StepContext) => T | Promise<T>, opts?: StepOptions): Promise<T>;
  now(): Promise<Date>;
  random(): Promise<number>;
  uuid(): Promise<string>;
}

/** Set while a step's function runs, so ctx calls made from inside it can be refused. */
const insideStep = new AsyncLocalStorage<string>();

export class Context implements WorkflowContext {
  readonly workflowId: string;
  readonly #abort = new AbortController();
  readonly #recorded: ReadonlyMap<number, RecordedStep>;
  readonly #channel: Channel;
  readonly #errorClasses: ErrorClasses;
  #nextStepId = 0;
  /** why this execution must stop without recording anything (it lost ownership) */
  stopped: unknown = undefined;

  constructor(
    workflowId: string,
    recorded: readonly RecordedStep[],
    channel: Channel,
    errorClasses: ErrorClasses,
  ) {
    this.workflowId = workflowId;
    this.#recorded = new Map(recorded.map((s) => [s.stepId, s]));
    this.#channel = channel;
    this.#errorClasses = errorClasses;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  cancel(): void {
    this.#abort.abort(new WorkflowCancelledError(`workflow ${this.workflowId} was cancelled`));
  }

  async step<T>(
    name: string,
    fn: (s: StepContext) => T | Promise<T>,
    opts?: StepOptions,
  ): Promise<T> {
    this.#enter('step', name);
    const policy = retryPolicy(name, opts);
    const stepId = this.#nextStepId++;
    const recorded = this.#replay(stepId, name);
    if (recorded) return this.#outcome<T>(recorded.output, recorded.error);

    const startedAt = Date.now();
    let output: Uint8Array | null = null;
    let error: Uint8Array | null = null;
    for (let attempt = 1; ; attempt++) {
      let value: T;
      try {
        const stepCtx = { workflowId: this.workflowId, stepId, attempt, signal: this.signal };
        value = await insideStep.run(name, () => fn(stepCtx));
      } catch (err) {
        if (this.signal.aborted) throw this.signal.reason;
        if (attempt > policy.retries) {
          error = encodeError(err);
          break;
        }
        await delay(retryDelay(policy, attempt), this.signal);
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
    await this.#checkpoint({ stepId, name, output, error, startedAt });
    // Both runs and replays decode what was stored, so they see exactly the same values.
    return this.#outcome<T>(output, error);
  }

  async now(): Promise<Date> {
    return new Date(await this.step('skein.now', () => Date.now()));
  }

  random(): Promise<number> {
    return this.step('skein.random', () => Math.random());
  }

  uuid(): Promise<string> {
    return this.step('skein.uuid', () => randomUUID());
  }

  #enter(method: string, detail: string): void {
    const step = insideStep.getStore();
    if (step !== undefined) {
      throw new SkeinError(
        `ctx.${method}('${detail}') was called inside step '${step}': ` +
          `steps cannot call the workflow context`,
      );
    }
    if (this.stopped !== undefined) throw this.stopped;
    if (this.signal.aborted) throw this.signal.reason;
  }

  #replay(stepId: number, name: string): RecordedStep | undefined {
    const recorded = this.#recorded.get(stepId);
    if (recorded && recorded.name !== name) {
      throw new NonDeterminismError(
        `workflow ${this.workflowId}, step ${stepId}: recorded as '${recorded.name}' ` +
          `but the code now calls '${name}'`,
      );
    }
    return recorded;
  }

  #outcome<T>(output: Uint8Array | null, error: Uint8Array | null): T {
    if (error) throw decodeError(error, this.#errorClasses);
    return output ? decodeValue<T>(output) : (undefined as T);
  }

  async #checkpoint(step: {
    stepId: number;
    name: string;
    output: Uint8Array | null;
    error: Uint8Array | null;
    startedAt: number;
  }): Promise<void> {
    try {
      await this.#channel.request({ type: 'checkpoint', ...step });
    } catch (err) {
      // Not durable, so the result must not reach workflow code. Whatever the cause (another
      // executor won the step, the database failed), this execution stops; the workflow stays
      // PENDING and recovery resumes it from its last committed step.
      this.stopped =
        err instanceof ConflictError
          ? err
          : new SkeinError(`checkpoint of step ${step.stepId} failed: ${err}`, { cause: err });
      throw this.stopped;
    }
  }
}
