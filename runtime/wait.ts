// Serving a wait while its workflow stays on its thread: a NOTIFY-driven check until the value
// is there (taken and recorded by `take`), or the timer heap until `until`, then `expire`.
import type { Reply } from '../common/protocol.ts';
import type { WaitSpec } from './requests.ts';
import type { Waiters } from './waiters.ts';

/**
 * Resolves with the reply once the wait is served. Stopping it through `signal` rejects with
 * the signal's reason, unless a check in flight then found the value (see Waiters.wait), in
 * which case it resolves with that value: it was taken, so it must reach the workflow.
 */
export async function runWait(spec: WaitSpec, waiters: Waiters, signal: AbortSignal): Promise<Reply> {
  if (spec.take && spec.key !== undefined) {
    const found = await waiters.wait(spec.key, spec.take, { deadline: spec.until, signal });
    if (found !== undefined) return found;
  } else if (spec.until !== undefined) {
    await waiters.timers.until(spec.until, signal);
  }
  if (signal.aborted) throw signal.reason;
  return spec.expire();
}
