// This thread's clock: the real one, or the test clock main was given (its offset in shared
// memory, handed over in piscina's workerData), so a workflow's sleeps and timeouts are
// measured on the same time as main's timers.
import { readerOf } from '../common/clock.ts';

let read: () => number = Date.now;

export function useClock(shared: SharedArrayBuffer | null | undefined): void {
  read = readerOf(shared);
}

/** epoch ms on this thread's clock */
export function now(): number {
  return read();
}
