// The worker's side of tracing. Main makes the spans (runtime/tracing.ts), from the messages it
// gets anyway, so the user's one tracer provider exports them. A run's task carries its span's
// traceparent; the workflow's code runs in that context here, so that spans the user's own code
// makes on this thread (with a provider and context manager registered in the thread, e.g. by
// `node --import` of their telemetry setup, which worker threads inherit) nest under the run.
// @opentelemetry/api is optional: it is imported only when a task carries a context, once.
import type * as Api from '@opentelemetry/api';
import { parseTraceparent } from '../common/traceparent.ts';

let api: Promise<typeof Api | null> | null = null;

function loadApi(): Promise<typeof Api | null> {
  api ??= import('@opentelemetry/api').then((m) => m as unknown as typeof Api, () => null);
  return api;
}

/** Runs `fn` with `traceparent` as the active span context, if there is one and the API is here. */
export async function inTraceContext<T>(traceparent: string | undefined, fn: () => Promise<T>): Promise<T> {
  const ids = parseTraceparent(traceparent);
  const otel = ids ? await loadApi() : null;
  if (!ids || !otel) return fn();
  const parent = otel.trace.setSpanContext(otel.ROOT_CONTEXT, { ...ids, isRemote: true });
  return otel.context.with(parent, fn);
}
