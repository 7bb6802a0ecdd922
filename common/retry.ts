// Retry delays: a step's retry policy (StepOptions), and the doubling back-off skein's own
// retries use (thread deaths, module loads, checkpoints written again).
import { checkOptions, STEP_OPTIONS } from './options.ts';

export interface StepOptions {
  /** extra attempts after the first; default 0 */
  retries?: number | undefined;
  /** delay before the first retry; default 100 ms */
  baseDelayMs?: number | undefined;
  /** multiplier per further retry; default 2 */
  backoff?: number | undefined;
  /** cap on any one delay; default 5000 ms */
  maxDelayMs?: number | undefined;
  /** per attempt: its signal aborts and it fails with StepTimeoutError (retried like any error) */
  timeoutMs?: number | undefined;
}

export type RetryPolicy = Required<Omit<StepOptions, 'timeoutMs'>> & { timeoutMs?: number };

/** What a step gets without options: one attempt (skein's own steps use it too). */
export const NO_RETRIES: RetryPolicy = Object.freeze({ retries: 0, baseDelayMs: 100, backoff: 2, maxDelayMs: 5000 });

export function retryPolicy(name: string, given?: StepOptions): RetryPolicy {
  const opts = checkOptions<StepOptions>(`ctx.step('${name}') options`, given, STEP_OPTIONS);
  return {
    retries: opts.retries ?? NO_RETRIES.retries,
    baseDelayMs: opts.baseDelayMs ?? NO_RETRIES.baseDelayMs,
    backoff: opts.backoff ?? NO_RETRIES.backoff,
    maxDelayMs: opts.maxDelayMs ?? NO_RETRIES.maxDelayMs,
    timeoutMs: opts.timeoutMs,
  };
}

/** Delay before attempt `attempt + 1`, given that attempt `attempt` (1-based) failed. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.backoff ** (attempt - 1));
}

/** The pause before try number `n` (1-based) after a failure: `base` doubling up to `max`. */
export function backoff(base: number, max: number, n: number): number {
  return Math.min(base * 2 ** (n - 1), max);
}
