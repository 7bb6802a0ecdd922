// Shares a backlog out over the threads instead of handing it to whichever thread frees first.
//
// A thread interleaves its workflows, so CPU-bound ones admitted together end together: a
// thread's 32 finished within 20 ms of each other (bench/PROFILES.md, workload 4). With more
// ready workflows than free slots, the thread that freed first refilled every slot it freed from
// the backlog (31 of 36), and the other, freeing 6-150 ms later, found 5: it idled while the
// first ran 31 workflows on one core (25 workflows/s where an even split gives 30-32).
//
// So when the backlog is larger than the free slots but smaller than all the slots (only then
// can a share be less than a thread's slots), a share window opens: for SHARE_WINDOW_MS each
// usable thread takes at most its share, what is ready plus what was taken in the window over
// the usable threads (so work that arrives meanwhile raises every share alike), and a thread
// that frees within the window takes its own share. The window closes early once nothing is
// ready. Then the caps lift: a thread whose neighbours stayed full (long steps) takes the rest,
// so what it costs is bounded by the window and falls on workflows that found no free slot of
// their share. Another window opens only after every slot was held again.

/** How long a thread's share of a backlog waits for the other threads to free slots. */
export const SHARE_WINDOW_MS = 250;

export class BacklogShare {
  /** while open: what each thread took, and all of them together */
  readonly #taken = new Map<number, number>();
  #takenTotal = 0;
  #threads = 0;
  #open = false;
  /** a window may open: every slot was held since the last one */
  #armed = true;

  /**
   * Opens a window when `ready` workflows are more than the `free` slots (some are free) and
   * fewer than the slots of the `threads` usable threads, `perThread` each, and every slot was
   * held since the last window. True when it opened; the caller ends it with end() after
   * SHARE_WINDOW_MS.
   */
  begin(ready: number, free: number, threads: number, perThread: number): boolean {
    if (!this.mayOpen || threads < 2 || free === 0 || ready <= free || ready >= threads * perThread) return false;
    this.#open = true;
    this.#armed = false;
    this.#threads = threads;
    this.#taken.clear();
    this.#takenTotal = 0;
    return true;
  }

  /** Closed and armed: only then is begin() worth its arguments (counting slots is O(threads)). */
  get mayOpen(): boolean {
    return !this.#open && this.#armed;
  }

  get open(): boolean {
    return this.#open;
  }

  /** Whether thread `id` may take one more workflow now, with `ready` waiting. */
  allows(id: number, ready: number): boolean {
    return !this.#open || (this.#taken.get(id) ?? 0) < Math.ceil((ready + this.#takenTotal) / this.#threads);
  }

  took(id: number): void {
    if (!this.#open) return;
    this.#taken.set(id, (this.#taken.get(id) ?? 0) + 1);
    this.#takenTotal++;
  }

  /** Every slot is held: the next backlog may open a window. */
  full(): void {
    this.#armed = true;
  }

  end(): void {
    this.#open = false;
    this.#taken.clear();
    this.#takenTotal = 0;
  }
}
