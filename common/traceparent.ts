// The W3C traceparent a run's task carries from main (runtime/tracing.ts) to its thread
// (threads/trace-context.ts): one place for the format both sides must agree on.

export interface TraceIds {
  traceId: string;
  spanId: string;
  traceFlags: number;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export function formatTraceparent(ids: TraceIds): string {
  return `00-${ids.traceId}-${ids.spanId}-${(ids.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The IDs of a well-formed traceparent, else null. */
export function parseTraceparent(text: string | undefined): TraceIds | null {
  const m = text === undefined ? null : TRACEPARENT.exec(text);
  return m ? { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) } : null;
}
