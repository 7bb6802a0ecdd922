// Counting what overlapped, for tests of limits (concurrency, partitions) across processes.

export type Interval = { start: number; end: number };

/** The most intervals that overlap at any instant (an end before a start at the same instant). */
export function maxOverlap(intervals: Interval[]): number {
  const edges = intervals.flatMap((i) => [[i.start, 1], [i.end, -1]] as const);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (now += d));
  return max;
}
