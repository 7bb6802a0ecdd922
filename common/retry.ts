// Step retry policy (StepOptions).
import { ConfigError } from './errors.ts';

export interface StepOptions {
  /** extra attempts after the first; default 0 */
  retries?: number;
  /** delay before the first retry; default 100 ms */
  baseDelayMs?: number;
  /** multiplier per further retry; default 2 */
  backoff?: number;
  /** cap on any one delay; default 5000 ms */
  maxDelayMs?: number;
}

export type RetryPolicy = Required<StepOptions>;

export function retryPolicy(name: string, opts: StepOptions = {}): RetryPolicy {
  const policy = {
    retries: opts.retries ?? 0,
    baseDelayMs: opts.baseDelayMs ?? 100,
    backoff: opts.backoff ?? 2,
    maxDelayMs: opts.maxDelayMs ?? 5000,
  };
  const check = (key: keyof RetryPolicy, ok: boolean) => {
    if (!ok) throw new ConfigError(`step '${name}': options.${key} is invalid: ${policy[key]}`);
  };
  check('retries', Number.isInteger(policy.retries) && policy.retries >= 0);
  check('baseDelayMs', Number.isFinite(policy.baseDelayMs) && policy.baseDelayMs >= 0);
  check('backoff', Number.isFinite(policy.backoff) && policy.backoff >= 1);
  check('maxDelayMs', Number.isFinite(policy.maxDelayMs) && policy.maxDelayMs >= 0);
  return policy;
}

/** Delay before attempt `attempt + 1`, given that attempt `attempt` (1-based) failed. */
export function retryDelay(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.backoff ** (attempt - 1));
}
