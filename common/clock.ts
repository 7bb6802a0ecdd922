// The clock skein measures workflow time on: sleeps, recv/getEvent timeouts, deadlines, delayed
// starts, schedules, debounces and the waits of callers. The real one is Date.now(). A test
// clock (skein/testing) runs ahead of it by an offset that only grows; the offset lives in
// shared memory, so worker threads read the very time main does, and the database's clock is
// shifted by the same offset in the queries that decide what is due (storage/ takes `shiftMs`).
// Leases, rate-limit windows and retention stay on real time: they are about the processes and
// the database, not about the workflows' story.

/** Marks clocks skein accepts as SkeinConfig.clock: the real one, and test clocks. */
export const CLOCK_BRAND = Symbol.for('skein.clock');

export interface Clock {
  readonly [CLOCK_BRAND]: true;
  /** epoch ms */
  now(): number;
  /** how far this clock runs ahead of the real one, in ms */
  readonly shiftMs: number;
  /** a Skein runs on this clock until the returned call; see ClockUser */
  join(user: ClockUser): () => void;
  /** the offset in shared memory (a BigInt64Array of one), for worker threads */
  readonly shared: SharedArrayBuffer | null;
}

/** What a test clock asks of each Skein running on it. */
export interface ClockUser {
  /** the clock moved on: what came due fires now */
  advanced(): void;
  /** workflows running code or about to (not waiting): a test clock moves once there are none */
  busy(): string[];
  /** when its earliest timer is due (epoch ms on this clock), if it has one */
  nextDue(): number | undefined;
}

export const REAL_CLOCK: Clock = Object.freeze({
  [CLOCK_BRAND]: true as const,
  now: Date.now,
  shiftMs: 0,
  join: () => () => {},
  shared: null,
});

export function isClock(value: unknown): value is Clock {
  return typeof value === 'object' && value !== null && (value as Clock)[CLOCK_BRAND] === true;
}

/** The time as read through a shared offset (REAL_CLOCK's when there is none). */
export function readerOf(shared: SharedArrayBuffer | null | undefined): () => number {
  if (!shared) return Date.now;
  const offset = new BigInt64Array(shared);
  return () => Date.now() + Number(Atomics.load(offset, 0));
}
