// The three columns of `npm run bench`, each run in a process of its own, in this order within a
// pass: skein at its defaults (the headline: what an untuned user gets), DBOS at its defaults,
// and skein "tuned" with the settings named in TUNED. Alternating them within each pass puts a
// drift of the shared machine on all three instead of on whichever ran last.
import type { SkeinConfig } from '../runtime/index.ts';

/**
 * skein's tuned column: every setting it changes from the defaults, and nothing else. Printed
 * in the report. workflowsPerThread 1024 lets skein's threads take about as many workflows at
 * once as DBOS, which runs every started workflow on its event loop.
 */
export const TUNED = { workflowsPerThread: 1024 } as const satisfies Partial<SkeinConfig>;

export const VARIANTS = ['skein', 'dbos', 'tuned'] as const;
export type Variant = (typeof VARIANTS)[number];

/** What a variant's process runs: the system, and skein's settings on top of its defaults. */
export function systemOf(variant: Variant): 'skein' | 'dbos' {
  return variant === 'dbos' ? 'dbos' : 'skein';
}

/** skein's settings beyond `workflows`, `databaseUrl` and the bench's queue, for a variant. */
export function skeinSettings(variant: Variant): Partial<SkeinConfig> {
  return variant === 'tuned' ? TUNED : {};
}

/** `workflowsPerThread 1024`: the tuned settings as the report prints them. */
export function describeTuned(): string {
  return Object.entries(TUNED)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

export function isVariant(x: string | undefined): x is Variant {
  return (VARIANTS as readonly string[]).includes(x ?? '');
}
