// OpenTelemetry: spans per workflow run and per step, made on the main thread into the
// provider this process registered (an in-memory exporter), with the caller's context as the
// parent, the run's context active where the step code runs on its worker thread, and a child
// workflow's run under its parent's.
import test from 'ava';
import { context, trace, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { launch, unique } from '../support/helpers.ts';
import { traced, tracedFailure } from '../fixtures/observed.ts';

const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
const workflows = new URL('../fixtures/observed.ts', import.meta.url);

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const ofWorkflow = (id: string) => exporter.getFinishedSpans().filter((s) => s.attributes['skein.workflow.id'] === id);

test('a workflow with 3 steps and a child: spans, parentage and attributes', async (t) => {
  const skein = await launch(t, { workflows });
  const id = unique('traced');
  const request = trace.getTracer('test').startSpan('request');
  const result = await context.with(trace.setSpan(context.active(), request), async () => (await skein.start(traced, 7, { id })).result());
  request.end();
  t.is(result.child, 21);

  const spans = ofWorkflow(id);
  const runs = spans.filter((s) => s.name === 'workflow traced');
  t.is(runs.length, 1, 'one run: it never parked or died');
  const run = runs[0]!;
  t.is(run.spanContext().traceId, request.spanContext().traceId, "the run joins the caller's trace");
  t.is(parentOf(run), request.spanContext().spanId, "the run's parent is the caller's span");
  t.like(run.attributes, {
    'skein.workflow.id': id,
    'skein.workflow.name': 'traced',
    'skein.workflow.attempt': 1,
    'skein.executor.id': skein.executorId,
    'skein.run.end': 'success',
  });
  t.is(run.status.code, SpanStatusCode.UNSET);

  // the step code ran with the run's context active on its worker thread
  t.deepEqual(result.seen, { traceId: run.spanContext().traceId, spanId: run.spanContext().spanId });

  const steps = spans.filter((s) => s.name.startsWith('step '));
  t.deepEqual(steps.map((s) => s.name), ['step look', 'step flaky', 'step broken']);
  steps.forEach((s, i) => {
    t.is(parentOf(s), run.spanContext().spanId, `${s.name} is a child of the run`);
    t.like(s.attributes, { 'skein.workflow.id': id, 'skein.workflow.name': 'traced', 'skein.step.id': i, 'skein.executor.id': skein.executorId });
    t.true(s.startTime[0] * 1e3 + s.startTime[1] / 1e6 >= run.startTime[0] * 1e3 + run.startTime[1] / 1e6 - 1, 'a step starts within its run');
  });
  const [look, flaky, broken] = steps;
  t.like(look!.attributes, { 'skein.step.name': 'look', 'skein.step.attempts': 1 });
  t.like(flaky!.attributes, { 'skein.step.name': 'flaky', 'skein.step.attempts': 2 });
  t.is(flaky!.status.code, SpanStatusCode.UNSET, 'a step that succeeded on its retry is not an error');
  t.is(broken!.status.code, SpanStatusCode.ERROR);
  t.is(broken!.status.message, 'broken for good');
  const exception = broken!.events.find((e) => e.name === 'exception');
  t.like(exception?.attributes, { 'exception.type': 'RangeError', 'exception.message': 'broken for good' });

  // the child: its own workflow ID, a run under the parent's run, in the same trace
  const childId = (await skein.getWorkflowSteps(id)).find((s) => s.childWorkflowId)?.childWorkflowId;
  t.truthy(childId);
  const childSpans = ofWorkflow(childId!);
  const childRun = childSpans.find((s) => s.name === 'workflow tracedChild');
  t.truthy(childRun);
  t.is(childRun!.spanContext().traceId, request.spanContext().traceId);
  t.is(parentOf(childRun!), run.spanContext().spanId, "the child's run is a child of its parent's run");
  const triple = childSpans.find((s) => s.name === 'step triple');
  t.is(parentOf(triple!), childRun!.spanContext().spanId);
});

test("a failing workflow's run span carries the error", async (t) => {
  const skein = await launch(t, { workflows });
  const id = unique('fails');
  await t.throwsAsync((await skein.start(tracedFailure, null, { id })).result(), { message: 'the workflow itself fails' });
  const run = ofWorkflow(id).find((s) => s.name === 'workflow tracedFailure');
  t.truthy(run);
  t.is(run!.status.code, SpanStatusCode.ERROR);
  t.like(run!.attributes, { 'skein.run.end': 'error' });
  t.like(run!.events.find((e) => e.name === 'exception')?.attributes, { 'exception.type': 'Declined' }, 'its class, where its name says only Error');
  t.is(parentOf(run!), undefined, 'started outside any span: a trace of its own');
});
