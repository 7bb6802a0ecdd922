// A step's checkpoint is written again when the database fails it for the moment (a restart, a
// lost connection, a connect timeout). Its function ran and its outcome is in hand: failing the
// request would stop the run, and the next run would call the function again (seen in CI: a
// pool connection that took over connectTimeoutMs to open under load ran a 10 MB step twice).
// A write that did commit before its connection was lost is found by the retry (the step
// conflicts): the run then stops and replays it, without running the step.
import { errorField, type Logger } from '../common/logger.ts';
import { backoff } from '../common/retry.ts';
import { isTransient } from '../common/transient.ts';
import type { TimerHandle } from './timers.ts';

/** The pause before the n-th write again: doubling from BASE up to MAX (a restart here takes ~1 s). */
const BASE_MS = 50;
const MAX_MS = 2000;
/** Failing this long, it is a warning (once, then each time the span doubles): a restart is not. */
const WARN_AFTER_MS = 5000;

export interface RetryScope {
  /** the run may still use the write: its attempt has not ended and it was not cancelled */
  current(): boolean;
  /** calls `fn` when the attempt ends or is cancelled; returns the call that unsubscribes */
  onStop(fn: () => void): () => void;
  timers: { now(): number; at(time: number, fn: () => void): TimerHandle };
  logger: Logger;
  about: { workflowId: string; name: string; stepId: number; step: string };
}

/**
 * After a checkpoint's write failed with `first`: writes it again until that succeeds, fails for
 * a reason of its own (not transient), or the scope stops being current; a failure then is
 * thrown as it came. (Called only on a failure: the first write costs the hot path nothing.)
 */
export async function writeCheckpointAgain<T>(first: unknown, write: () => Promise<T>, scope: RetryScope): Promise<T> {
  const since = performance.now();
  let warnAt = since + WARN_AFTER_MS;
  let err = first;
  for (let tries = 1; ; tries++) {
    if (!isTransient(err) || !scope.current()) throw err;
    const now = performance.now();
    const loud = now >= warnAt;
    if (loud) warnAt = since + 2 * (now - since);
    (loud ? scope.logger.warn : scope.logger.debug).call(
      scope.logger,
      "skein: a step's checkpoint failed on the database; it is written again, so that its step does not run again",
      { ...scope.about, failures: tries, failingMs: Math.round(now - since), error: errorField(err) },
    );
    await pause(scope, backoff(BASE_MS, MAX_MS, tries));
    if (!scope.current()) throw err;
    try {
      return await write();
    } catch (again) {
      err = again;
    }
  }
}

/** Resolves after `ms`, or at once when the attempt ends or is cancelled. */
function pause(scope: RetryScope, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = scope.timers.at(scope.timers.now() + ms, () => {
      stop();
      resolve();
    });
    const stop = scope.onStop(() => {
      timer.cancel();
      stop();
      resolve();
    });
  });
}
