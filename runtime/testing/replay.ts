// replayCheck: replays a recorded workflow against the code this Skein runs now, so a CI job can
// check a deploy against the histories of workflows still in flight (Temporal ships a replayer;
// DBOS does not). The replay runs the workflow function on a worker thread with its recorded
// steps; it runs no step function and writes nothing (threads/context.ts, RunTask.replay). Code
// outside steps does run, as it does on every recovery.
import { isDeepStrictEqual } from 'node:util';
import { decodeError, decodeValue } from '../../common/codec.ts';
import { failureOf } from '../../common/describe.ts';
import { ConfigError, NonDeterminismError, UnknownWorkflowError } from '../../common/errors.ts';
import type { RecordedStep, ReplayResult } from '../../common/protocol.ts';
import type { Status } from '../../common/status.ts';
import { checkText, MAX_ID_LENGTH } from '../../common/validate.ts';
import type { Skein } from '../skein.ts';
import { testAccessOf } from '../test-access.ts';

export interface ReplayReport {
  workflowId: string;
  name: string;
  status: Status;
  /** recorded steps the code went through */
  steps: number;
  /** the code reached the recorded end (a finished workflow); false: the history stops earlier */
  complete: boolean;
}

/** A divergence: the step where the code and the history part, and how. */
export class ReplayDivergence extends NonDeterminismError {
  constructor(
    message: string,
    readonly workflowId: string,
    /** the first step id where they differ */
    readonly stepId: number,
  ) {
    super(message);
  }
}

/**
 * Replays workflow `workflowId`'s history against the current code. Resolves with a report when
 * they agree; rejects with a NonDeterminismError (a ReplayDivergence) naming the first step
 * where they differ: another step name, a call the finished run never made, a return before
 * the recorded steps ran out, or another outcome.
 */
export async function replayCheck(skein: Skein, workflowId: string): Promise<ReplayReport> {
  const access = testAccessOf(skein, 'replayCheck');
  const id = checkText('replayCheck workflowId', workflowId, MAX_ID_LENGTH);
  const run = await access.replay(id);
  if (!run) throw new ConfigError(`replayCheck: there is no workflow ${id}`);
  const { row, steps } = run;
  if (!access.knows(row.name)) throw new UnknownWorkflowError(`replayCheck: workflow '${row.name}' (of ${id}) is not exported by this Skein's workflows module`);
  if (run.result.type !== 'replay') throw new Error(`replayCheck: the replay of ${id} ended unexpectedly (${run.result.type})`);
  const { stepsCalled, end } = run.result as ReplayResult;
  const finished = row.status === 'SUCCESS' || row.status === 'ERROR';
  const diverged = (stepId: number, how: string) => new ReplayDivergence(`workflow ${id} ('${row.name}'), step ${stepId}: ${how}`, id, stepId);
  const report: ReplayReport = { workflowId: id, name: row.name, status: row.status, steps: Math.min(stepsCalled, steps.length), complete: false };

  if (end.type === 'historyEnd') {
    // an unfinished workflow's history simply stops; a finished one's has nothing more
    if (!finished) return report;
    throw diverged(end.stepId, `the code now calls '${end.name}', but the recorded run ${row.status === 'SUCCESS' ? 'returned' : 'threw'} after step ${end.stepId - 1}`);
  }
  if (end.type === 'stopped') throw new Error(`replayCheck: the replay of ${id} stopped: ${end.reason}`);
  if (end.type === 'error' && end.failure.type === 'NonDeterminismError') {
    // the message names the step; it is the last step id the code took
    throw new ReplayDivergence(end.failure.message, id, stepsCalled - 1);
  }
  const next = nextRecorded(steps, stepsCalled);
  if (next) throw diverged(next.stepId, `the code ${end.type === 'output' ? 'returns' : 'throws'} here, but the history goes on with '${next.name}'`);
  if (!finished) return { ...report, complete: true };
  const recordedOk = row.status === 'SUCCESS';
  if (recordedOk !== (end.type === 'output')) {
    throw diverged(stepsCalled, recordedOk ? `the code throws (${end.type === 'error' ? `${end.failure.type}: ${end.failure.message}` : ''}) where the recorded run returned` : 'the code returns where the recorded run threw');
  }
  if (end.type === 'output' && !isDeepStrictEqual(decodeValue(end.bytes), decodeValue(row.output!))) {
    throw diverged(stepsCalled, 'the code returns another value than the recorded run did');
  }
  if (end.type === 'error') {
    // described the same way on both sides (a thrown string, a message cut at its length limit)
    const was = failureOf(decodeError(row.error!));
    if (was.type !== end.failure.type || was.message !== end.failure.message) {
      throw diverged(stepsCalled, `the code throws ${end.failure.type}: ${end.failure.message}; the recorded run threw ${was.type}: ${was.message}`);
    }
  }
  return { ...report, complete: true };
}

/** The first recorded step at or after `stepId`. */
function nextRecorded(steps: readonly RecordedStep[], stepId: number): RecordedStep | undefined {
  return steps.find((s) => s.stepId >= stepId);
}
