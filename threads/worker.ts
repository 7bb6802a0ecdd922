// The piscina entry: everything here runs on a worker thread. One call runs one workflow
// execution: main sends runs on the thread's line (threads/line.ts), and replays as piscina
// tasks; main's admission decides how many run at once on each thread. This file and
// its imports must not use top-level await (tsx loads it through its CommonJS hook).
import { Channel } from './channel.ts';
import { openLine, openRun } from './line.ts';
import { encodeError, encodeValue, decodeValue } from '../common/codec.ts';
import { failureOf } from '../common/describe.ts';
import { inTraceContext } from './trace-context.ts';
import { Context } from './context.ts';
import { useClock } from './clock.ts';
import { ConflictError, UnknownWorkflowError, type CancelReason } from '../common/errors.ts';
import { loadWorkflows } from '../common/loader.ts';
import type { DatasourcesData, RunTask, TaskResult, WarmMessage, WorkerResult } from '../common/protocol.ts';
import type { ScannedModule } from '../common/workflow.ts';
import { configureDatasources } from '../datasources/registry.ts';
import { parentPort, threadId } from 'node:worker_threads';
import { workerData } from 'piscina';

// Warm the thread: import the workflows module as soon as the thread starts rather than at its
// first task, and tell main, which admits work only to warm threads (runtime/balancer.ts) and
// whose launch waits for the first thread to say whether the module loads here.
const data = workerData as { workflowsModule?: string; datasources?: DatasourcesData; clock?: SharedArrayBuffer | null } | undefined;
configureDatasources(data?.datasources);
useClock(data?.clock);
// the line first: main must hold it before it sends this thread a run
openLine(runWorkflow);
const preload = data?.workflowsModule;
if (preload) {
  loadWorkflows(preload).then(
    () => parentPort?.postMessage({ type: 'skein:warm', threadId } satisfies WarmMessage),
    (err: Error) => {
      // what the module threw (the loader's wrapper only names the module, which main knows)
      const cause = (err.cause ?? err) as Error;
      parentPort?.postMessage({
        type: 'skein:warm',
        threadId,
        // plain data: the user's error may not survive a structured clone
        error: { message: `${cause?.name ?? 'Error'}: ${cause?.message ?? String(cause)}`, stack: String(cause?.stack ?? cause) },
      } satisfies WarmMessage);
    },
  );
}

/** What ends a task when main parks its workflow. */
const PARKED: TaskResult = { type: 'parked' };

export default async function runWorkflow(task: RunTask): Promise<WorkerResult> {
  let ctx: Context | undefined;
  let cancelled: CancelReason | undefined;
  let park!: () => void;
  const parked = new Promise<TaskResult>((resolve) => (park = () => resolve(PARKED)));
  const channel = new Channel(openRun(task.run), {
    cancel: (reason) => {
      cancelled = reason;
      ctx?.cancel(reason);
    },
    park: () => {
      ctx?.park();
      park();
    },
  });
  // Parking returns at once; the workflow's own promise is left pending and collected.
  const made = (c: Context) => {
    ctx = c;
    // cancelled while the module loaded
    if (cancelled) c.cancel(cancelled);
  };
  if (task.replay) return replay(task, channel);
  return Promise.race([run(task, channel, made), parked]).finally(() => channel.close());
}

/** Looks at a replay left only waiting this often, and ends it after this many looks without a call. */
const IDLE_LOOK_MS = 20;
const IDLE_LOOKS = 5;

/** A replay (replayCheck): how far the code went through its history, and how it ended. */
async function replay(task: RunTask, channel: Channel): Promise<WorkerResult> {
  let ctx: Context | undefined;
  let look: NodeJS.Timeout | undefined;
  // the code waits on something its history never answered and makes no call any more: the
  // history ends at that wait (no await settles by itself, so the run would never return)
  const stuck = new Promise<'stuck'>((resolve) => {
    let calls = -1;
    let still = 0;
    look = setInterval(() => {
      const now = ctx?.stepsCalled ?? 0;
      still = ctx?.unrecordedWait && now === calls ? still + 1 : 0;
      calls = now;
      if (still >= IDLE_LOOKS) resolve('stuck');
    }, IDLE_LOOK_MS);
  });
  try {
    const end = await Promise.race([run(task, channel, (c) => (ctx = c)), stuck]);
    const history = ctx?.historyEnd ?? (end === 'stuck' ? ctx?.unrecordedWait : undefined);
    return {
      type: 'replay',
      stepsCalled: ctx?.stepsCalled ?? 0,
      end: history
        ? { type: 'historyEnd', stepId: history.stepId, name: history.stepName }
        : end !== 'stuck' && (end.type === 'output' || end.type === 'error' || end.type === 'stopped')
          ? end
          : { type: 'stopped', reason: end === 'stuck' ? 'stuck' : end.type, retry: false },
    };
  } finally {
    clearInterval(look);
    channel.close();
  }
}

async function run(task: RunTask, channel: Channel, made: (ctx: Context) => void): Promise<TaskResult> {
  let ctx: Context | undefined;
  let module: ScannedModule;
  try {
    module = await loadWorkflows(task.workflowsModule);
  } catch (err) {
    // The thread's fault, not the workflow's: it runs again elsewhere, and is never ERROR.
    return { type: 'unavailable', reason: String((err as Error)?.message ?? err) };
  }
  try {
    const { workflows, errorClasses } = module;
    const wf = workflows.get(task.name);
    if (!wf) {
      throw new UnknownWorkflowError(
        `workflow '${task.name}' is not exported by ${task.workflowsModule}`,
      );
    }
    ctx = new Context(task.id, task.steps, channel, errorClasses, task.stepAttempts, { probe: task.probe, replay: task.replay });
    made(ctx);
    let output: unknown;
    try {
      const input = decodeValue(task.input);
      output = await inTraceContext(task.trace, () => wf.fn(ctx!, input));
    } finally {
      // so a wait it left pending (the loser of a race) cannot make main park it now
      ctx.finish();
    }
    // A workflow may catch the failure of its own checkpoint; it still must not finish here.
    if (ctx.stopped !== undefined) return stopped(ctx.stopped);
    // nor may it swallow a NonDeterminismError: it ends with it, whatever it returned
    if (ctx.nonDeterminism) return errorResult(ctx.nonDeterminism);
    // a SerializationError (caught below) if it cannot be stored
    return { type: 'output', bytes: encodeValue(output, `workflow '${task.name}' output`) };
  } catch (err) {
    if (ctx?.stopped !== undefined) return stopped(ctx.stopped);
    // encodeError never throws: a throw here would reject the task, which main takes for the
    // thread's death, and the workflow would run again and again
    return errorResult(ctx?.nonDeterminism ?? err);
  }
}

function errorResult(err: unknown): TaskResult {
  return { type: 'error', bytes: encodeError(err), failure: failureOf(err) };
}

function stopped(reason: unknown): TaskResult {
  return {
    type: 'stopped',
    reason: reason instanceof Error ? reason.message : String(reason),
    retry: !(reason instanceof ConflictError),
  };
}
