// Main-thread answers to a workflow's requests. Each resolves once its effect is durable: a
// checkpoint, a send, an event write or a child start commits with its step record in one
// unit; a recv consumes its message and records it in one statement; a read (event, child
// result or status) is recorded before it is returned. Payloads are moved, never decoded.
//
// Waits (recv, getEvent, sleep, childResult, back-off) are described as a WaitSpec, which the
// dispatcher either serves while the workflow stays on its thread, or, once it parks, reduces
// to its wake condition: a NOTIFY key, an effect-free readiness check and a time.
import type { Pool } from '../storage/database.ts';
import { consumeMessage, notifyOp, readEvent, wakeKey } from '../storage/messages.ts';
import { getOutcome } from '../storage/workflows.ts';
import type { WakeCondition } from '../storage/parking.ts';

export type { WakeCondition } from '../storage/parking.ts';
import type { NewStep } from '../storage/write-ops.ts';
import type { GroupCommitWriter } from '../storage/writer.ts';
import { encodeValue } from '../common/codec.ts';
import { STEP, type Reply, type StartChildMessage, type WaitRequest, type WorkerRequest } from '../common/protocol.ts';
import { listWorkflows } from '../storage/workflows.ts';
import { encodeError } from '../common/codec.ts';
import { MaxRecoveryAttemptsError, SkeinError, WorkflowCancelledError } from '../common/errors.ts';
import type { Outcome } from './outcome.ts';
import { TERMINAL, toWorkflowStatus } from './status.ts';

export interface RequestDeps {
  pool: Pool;
  schema: string;
  writer: GroupCommitWriter;
  /** creates the child and records the parent's step, in one unit; dispatches it if it runs here */
  startChild(parentId: string, req: StartChildMessage): Promise<Reply>;
  /** epoch ms on the coordinator's clock (a test clock's, under one), for steps' start times */
  now(): number;
}

export interface WaitSpec extends WakeCondition {
  /** the value, taken and recorded (a recv consumes its message); undefined if not there yet */
  take?: () => Promise<Reply | undefined>;
  /** what the wait returns (and records) when `until` passes first */
  expire: () => Promise<Reply>;
  /** whether the wait may leave its thread: its outcome is recorded when it is served */
  parkable: boolean;
}

/** What a recv or getEvent that timed out returns (and records): an encoded null. */
const NULL_VALUE = encodeValue(null);

function step(
  startedAt: number,
  workflowId: string,
  stepId: number,
  name: string,
  output: Uint8Array | null,
  error: Uint8Array | null = null,
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

/** Serves one request that does not wait; resolves with the payload to return, if any. */
export async function serveRequest(
  deps: RequestDeps,
  workflowId: string,
  req: Exclude<WorkerRequest, WaitRequest>,
): Promise<Reply | undefined> {
  const { writer, pool, schema } = deps;
  switch (req.type) {
    case 'checkpoint': {
      const record = step(req.startedAt, workflowId, req.stepId, req.name, req.output, req.error);
      record.row.attempts = req.attempts;
      await writer.write([record]);
      return undefined;
    }
    case 'send':
      await writer.write([
        step(deps.now(), workflowId, req.stepId, STEP.send, null),
        {
          kind: 'sendMessage',
          row: { destinationId: req.destinationId, topic: req.topic, message: req.message, idempotencyKey: null },
        },
        notifyOp(schema, wakeKey.message(req.destinationId, req.topic)),
      ]);
      return undefined;
    case 'setEvent': {
      // the step keeps the value and key it set, so a fork that copies it can copy the event
      // too (a replay of setEvent ignores its output)
      const record = step(deps.now(), workflowId, req.stepId, STEP.setEvent, req.value);
      record.row.eventKey = req.key;
      await writer.write([
        record,
        { kind: 'setEvent', row: { workflowId, key: req.key, value: req.value } },
        notifyOp(schema, wakeKey.event(workflowId, req.key)),
      ]);
      return undefined;
    }
    case 'startChild':
      return deps.startChild(workflowId, req);
    case 'childStatus': {
      // payloads left out: main does not decode them, and a status is for looking at
      const [row] = await listWorkflows(pool, schema, { ids: [req.childId] });
      const value = encodeValue(row ? toWorkflowStatus(row, new Map()) : null);
      await writer.write([step(deps.now(), workflowId, req.stepId, STEP.getStatus, value)]);
      return { value };
    }
    default: {
      const never: never = req;
      throw new Error(`unknown request from a worker: ${JSON.stringify(never)}`);
    }
  }
}

const NOTHING: Reply = {};
const nothing = async () => NOTHING;

/** What a wait of workflow `workflowId` waits for, and how it is served. */
export function waitSpec(deps: RequestDeps, workflowId: string, req: WaitRequest): WaitSpec {
  const { writer, pool, schema } = deps;
  switch (req.type) {
    case 'sleep':
      return { kind: 'time', until: req.until, stepId: req.stepId, expire: nothing, parkable: true };
    case 'backoff':
      return { kind: 'time', until: req.until, expire: nothing, parkable: false };
    case 'recv':
      return {
        kind: 'message',
        key: wakeKey.message(workflowId, req.topic),
        target: [workflowId, req.topic],
        until: req.deadline,
        stepId: req.stepId,
        parkable: true,
        take: async () => {
          const message = await consumeMessage(pool, schema, workflowId, req.topic, req.stepId, STEP.recv);
          return message ? { value: message } : undefined;
        },
        // timed out: record it, so a replay returns null too
        expire: async () => {
          await writer.write([step(deps.now(), workflowId, req.stepId, STEP.recv, NULL_VALUE)]);
          return { value: NULL_VALUE };
        },
      };
    case 'getEvent': {
      // the value read is recorded: a replay sees it even if the event has changed since
      const record = async (value: Uint8Array) => {
        await writer.write([step(deps.now(), workflowId, req.stepId, STEP.getEvent, value)]);
        return { value };
      };
      return {
        kind: 'event',
        key: wakeKey.event(req.workflowId, req.key),
        target: [req.workflowId, req.key],
        until: req.deadline,
        stepId: req.stepId,
        parkable: true,
        take: async () => {
          const value = await readEvent(pool, schema, req.workflowId, req.key);
          return value ? record(value) : undefined;
        },
        expire: () => record(NULL_VALUE),
      };
    }
    case 'childResult':
      return {
        kind: 'done',
        key: wakeKey.done(req.childId),
        target: [req.childId],
        stepId: req.stepId,
        parkable: true,
        take: async () => {
          const outcome = await getOutcome(pool, schema, req.childId);
          if (!outcome) {
            // deleted (deleteWorkflow, retention): recorded as this step's error, so the parent
            // goes on deterministically instead of failing the wait (and an attempt) forever
            const error = encodeError(new SkeinError(`no workflow with ID '${req.childId}' (it was deleted)`));
            await writer.write([step(deps.now(), workflowId, req.stepId, STEP.getResult, null, error)]);
            return { thrown: error };
          }
          if (!TERMINAL.has(outcome.status)) return undefined;
          const { output, error } = asResult(req.childId, outcome);
          await writer.write([step(deps.now(), workflowId, req.stepId, STEP.getResult, output, error)]);
          return { value: output ?? undefined, thrown: error ?? undefined };
        },
        expire: nothing, // no deadline
      };
    default: {
      const never: never = req;
      throw new Error(`unknown wait from a worker: ${JSON.stringify(never)}`);
    }
  }
}
