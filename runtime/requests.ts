// Main-thread answers to a workflow's requests. Each resolves once its effect is durable: a
// checkpoint, a send, an event write or a child start commits with its step record in one
// unit; a recv consumes its message and records it in one statement; a read (event, child
// result or status) is recorded before it is returned. Payloads are moved, never decoded.
import type { Pool } from '../storage/database.ts';
import { consumeMessage, notifyOp, readEvent, wakeKey } from '../storage/messages.ts';
import type { NewStep } from '../storage/write-ops.ts';
import type { GroupCommitWriter } from '../storage/writer.ts';
import { encodeValue } from '../threads/codec.ts';
import type { Reply, StartChildMessage, WorkerRequest } from '../threads/protocol.ts';
import { listWorkflows } from '../storage/workflows.ts';
import { encodeError } from '../threads/codec.ts';
import { MaxRecoveryAttemptsError, WorkflowCancelledError } from '../threads/errors.ts';
import type { Outcome } from './outcome.ts';
import { toWorkflowStatus } from './status.ts';
import type { Waiters } from './waiters.ts';

export interface RequestDeps {
  pool: Pool;
  schema: string;
  writer: GroupCommitWriter;
  waiters: Waiters;
  /** creates the child and records the parent's step, in one unit; dispatches it if it runs here */
  startChild(parentId: string, req: StartChildMessage): Promise<Reply>;
  /** the terminal outcome of a workflow, still encoded */
  outcome(id: string, signal: AbortSignal): Promise<Outcome>;
}

/** What a recv or getEvent that timed out returns (and records): an encoded null. */
const NULL_VALUE = encodeValue(null);

function step(
  workflowId: string,
  stepId: number,
  name: string,
  output: Uint8Array | null,
  error: Uint8Array | null = null,
  startedAt = Date.now(),
): { kind: 'recordStep'; row: NewStep } {
  return {
    kind: 'recordStep',
    row: { workflowId, stepId, name, output, error, childWorkflowId: null, startedAt },
  };
}

/** A child's outcome as what its parent's `result()` returns or throws. */
function asResult(id: string, o: Outcome): { output: Uint8Array | null; error: Uint8Array | null } {
  switch (o.status) {
    case 'SUCCESS':
      return { output: o.output ?? NULL_VALUE, error: null };
    case 'ERROR':
      return { output: null, error: o.error };
    case 'CANCELLED':
      return { output: null, error: encodeError(new WorkflowCancelledError(`workflow ${id} was cancelled`)) };
    default:
      return {
        output: null,
        error: encodeError(new MaxRecoveryAttemptsError(`workflow ${id} exceeded its maximum recovery attempts`)),
      };
  }
}

/**
 * Serves one request of workflow `workflowId`. `signal` aborts when that execution ends (its
 * thread died), so its waits are dropped. Resolves with the payload to return, if any.
 */
export async function serveRequest(
  deps: RequestDeps,
  workflowId: string,
  req: WorkerRequest,
  signal: AbortSignal,
): Promise<Reply | undefined> {
  const { writer, pool, schema, waiters } = deps;
  switch (req.type) {
    case 'checkpoint':
      await writer.write([step(workflowId, req.stepId, req.name, req.output, req.error, req.startedAt)]);
      return undefined;
    case 'send':
      await writer.write([
        step(workflowId, req.stepId, 'skein.send', null),
        {
          kind: 'sendMessage',
          row: { destinationId: req.destinationId, topic: req.topic, message: req.message, idempotencyKey: null },
        },
        notifyOp(schema, wakeKey.message(req.destinationId, req.topic)),
      ]);
      return undefined;
    case 'setEvent':
      await writer.write([
        step(workflowId, req.stepId, 'skein.setEvent', null),
        { kind: 'setEvent', row: { workflowId, key: req.key, value: req.value } },
        notifyOp(schema, wakeKey.event(workflowId, req.key)),
      ]);
      return undefined;
    case 'recv': {
      const consume = async () =>
        (await consumeMessage(pool, schema, workflowId, req.topic, req.stepId, 'skein.recv')) ?? undefined;
      const message = await waiters.wait(wakeKey.message(workflowId, req.topic), consume, {
        deadline: req.deadline,
        signal,
      });
      if (message) return { value: message };
      // timed out: record it, so a replay returns null too
      await writer.write([step(workflowId, req.stepId, 'skein.recv', NULL_VALUE)]);
      return { value: NULL_VALUE };
    }
    case 'getEvent': {
      const read = async () => (await readEvent(pool, schema, req.workflowId, req.key)) ?? undefined;
      const value = (await waiters.wait(wakeKey.event(req.workflowId, req.key), read, {
        deadline: req.deadline,
        signal,
      })) ?? NULL_VALUE;
      // the value read is recorded: a replay sees it even if the event has changed since
      await writer.write([step(workflowId, req.stepId, 'skein.getEvent', value)]);
      return { value };
    }
    case 'startChild':
      return deps.startChild(workflowId, req);
    case 'childResult': {
      const { output, error } = asResult(req.childId, await deps.outcome(req.childId, signal));
      await writer.write([step(workflowId, req.stepId, 'skein.getResult', output, error)]);
      return { value: output ?? undefined, thrown: error ?? undefined };
    }
    case 'childStatus': {
      // payloads left out: main does not decode them, and a status is for looking at
      const [row] = await listWorkflows(pool, schema, { ids: [req.childId] });
      const value = encodeValue(row ? toWorkflowStatus(row, new Map()) : null);
      await writer.write([step(workflowId, req.stepId, 'skein.getStatus', value)]);
      return { value };
    }
    default: {
      const never: never = req;
      throw new Error(`unknown request from a worker: ${JSON.stringify(never)}`);
    }
  }
}
