// The figures of a run of `npm run bench`: per column (bench/settings.ts), one record per pass,
// each the workloads of that pass's process(es), and how a table cell sums a column's passes up.
import type { Variant } from './settings.ts';
import type { Metrics } from './workloads.ts';

/** One pass of one column: workload -> its metrics (the main process's, plus recovery's). */
export type PassFigures = Record<string, Metrics>;
export type Figures = Record<Variant, PassFigures[]>;

/** A metric over a column's passes, leaving out passes that did not measure it. */
export function perPass(passes: PassFigures[], workload: string, key: string): number[] {
  return passes.map((p) => p[workload]?.[key]).filter((x): x is number => x !== undefined && Number.isFinite(x));
}

/** The median; of an even count, the mean of the middle two. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/**
 * A table cell: the median of the passes, and with more than one pass their spread (min-max),
 * so a noisy pass on a shared machine shows instead of passing for the figure.
 */
export function cell(xs: number[] | undefined): string {
  if (!xs?.length) return '';
  if (xs.length === 1) return fmt(xs[0]!);
  return `${fmt(median(xs))} (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})`;
}
