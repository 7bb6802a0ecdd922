// One timer service for everything the coordinator waits on: parked sleeps, recv/getEvent
// deadlines, step back-offs, park-after thresholds. A binary min-heap under a single Node timer,
// so 100,000 waiting workflows cost 100,000 small heap records, not 100,000 timers. Cancelled
// entries are dropped lazily when they reach the top (cancel is O(1)). Due entries fire in
// batches of at most FIRE_PER_TURN, yielding to the event loop between batches, so a burst of
// wake-ups never holds the main thread for long.

/** An armed timer; `cancel()` it if it is no longer needed. */
export interface TimerHandle {
  cancel(): void;
}

interface Entry extends TimerHandle {
  at: number;
  seq: number;
  fn: (() => void) | null;
}

/** Due callbacks run per event-loop turn before yielding (each is a few microseconds). */
const FIRE_PER_TURN = 1000;
/** Node clamps longer timeouts to 1 ms; re-arm in steps instead. */
const MAX_TIMEOUT = 2 ** 31 - 1;

export class Timers {
  readonly #heap: Entry[] = [];
  readonly #now: () => number;
  #seq = 0;
  #live = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #firing = false;
  /** where a callback's throw goes: the heap keeps going, but nothing fails unseen */
  onError: (err: unknown) => void = () => {};
  /** told how late each timer fired, in ms (metrics' wake-up latency) */
  onFired: ((lateMs: number) => void) | null = null;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  now(): number {
    return this.#now();
  }

  /** Armed timers (cancelled ones not counted). */
  get size(): number {
    return this.#live;
  }

  /** Runs `fn` at epoch ms `at` (at once, on a later turn, if it is past). */
  at(at: number, fn: () => void): TimerHandle {
    const entry: Entry = {
      at,
      seq: this.#seq++,
      fn,
      cancel: () => {
        if (entry.fn) {
          entry.fn = null;
          this.#live--;
          this.#maybeCompact();
        }
      },
    };
    this.#live++;
    this.#push(entry);
    if (!this.#firing && at < this.#timerAt) this.#arm();
    return entry;
  }

  /** Resolves at `at`; rejects with the signal's reason if it aborts first. */
  until(at: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        handle.cancel();
        reject(signal!.reason);
      };
      const handle = this.at(at, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** When the earliest armed timer is due (epoch ms), if any. */
  nextAt(): number | undefined {
    while (this.#heap.length > 0 && this.#heap[0]!.fn === null) this.#pop();
    return this.#heap[0]?.at;
  }

  /** Looks at the clock again (a test clock moved on): what is due now fires. */
  rearm(): void {
    if (!this.#firing) this.#arm();
  }

  /** Cancels everything (at shutdown). */
  clear(): void {
    for (const e of this.#heap) e.fn = null;
    this.#heap.length = 0;
    this.#live = 0;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /**
   * Cancelled entries wait for their time at the top of the heap; when they outnumber the
   * live ones (a burst of recvs answered long before their deadlines), rebuild without them.
   * Amortised O(1) per cancel.
   */
  #maybeCompact(): void {
    const dead = this.#heap.length - this.#live;
    if (dead < 1024 || dead < this.#live) return;
    const live = this.#heap.filter((e) => e.fn !== null);
    this.#heap.length = 0;
    for (const e of live) this.#heap.push(e);
    // heapify in O(n): a few ms for 100,000 entries, where a sort would take tens
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    while (this.#heap.length > 0 && this.#heap[0]!.fn === null) this.#pop();
    const top = this.#heap[0];
    if (!top) return;
    this.#timerAt = top.at;
    const delay = Math.min(MAX_TIMEOUT, Math.max(0, top.at - this.#now()));
    this.#timer = setTimeout(() => this.#fire(), delay);
    // The host decides when the process ends; a pending wake-up is durable anyway.
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#firing = true;
    let fired = 0;
    try {
      const now = this.#now();
      while (this.#heap.length > 0 && this.#heap[0]!.at <= now && fired < FIRE_PER_TURN) {
        const e = this.#pop()!;
        const fn = e.fn;
        if (!fn) continue;
        e.fn = null;
        this.#live--;
        fired++;
        this.onFired?.(now - e.at);
        try {
          fn();
        } catch (err) {
          // the heap must keep going; the failure is told (a bug of the callback's owner)
          this.onError(err);
        }
      }
    } finally {
      this.#firing = false;
    }
    if (fired === FIRE_PER_TURN) {
      // more may be due: continue on a later turn so I/O gets its share
      this.#timerAt = -Infinity;
      setImmediate(() => this.#fire());
    } else {
      this.#arm();
    }
  }

  #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  #pop(): Entry | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  #siftDown(i: number): void {
    const h = this.#heap;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
