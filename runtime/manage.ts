// Managing workflows after they started: resume, fork, restart, delete, priority. Runs on the
// caller's thread, for a Skein and a Client alike. Resumed and forked workflows go through the
// internal queue (runtime/config.ts INTERNAL_QUEUE), so whichever executor of the right app
// version is free runs them.
import { randomUUID } from 'node:crypto';
import type { Pool } from '../storage/database.ts';
import * as store from '../storage/manage.ts';
import { ConfigError, ConflictError, SkeinError } from '../common/errors.ts';
import { INTERNAL_QUEUE } from './config.ts';

export interface ManageDeps {
  pool: Pool;
  schema: string;
  /** the caller's app version (a Skein's); null for a Client */
  appVersion: string | null;
  /** cancels a workflow (and its children) durably, telling whoever runs it */
  cancel(id: string): Promise<void>;
}

export interface ForkOptions {
  /** steps below this one are copied and not run again; default 0 */
  startStep?: number | undefined;
  /** default: a random UUID */
  newId?: string | undefined;
  /** default: the caller's version (a Skein's), else the original's */
  appVersion?: string | undefined;
  /** default: the internal queue */
  queue?: string | undefined;
}

/** Statuses of a workflow that is running or about to: deleting it cancels it first. */
const LIVE = new Set<string>(['PENDING', 'ENQUEUED']);

/** How often a resume looks again when the row changed between its snapshot and its update. */
const RESUME_TRIES = 3;

export async function resumeWorkflow(deps: ManageDeps, id: string): Promise<void> {
  for (let tries = 1; ; tries++) {
    const { resumed, status } = await store.resumeWorkflow(deps.pool, deps.schema, id, INTERNAL_QUEUE);
    if (resumed) return;
    switch (status) {
      case null:
        throw unknown(id);
      case 'SUCCESS':
      case 'ERROR':
        throw new ConflictError(
          `workflow '${id}' is ${status}: a finished workflow cannot be resumed (fork it to run it again)`,
        );
      case 'PENDING':
        return; // it is running: nothing to do
      default:
        // resumable in the statement's snapshot, yet the guarded update missed it: it changed
        // meanwhile (resumed, claimed or deleted elsewhere), so look again
        if (tries >= RESUME_TRIES) throw new SkeinError(`workflow '${id}' kept changing while being resumed; try again`);
    }
  }
}

/** Returns the new workflow's ID. */
export async function forkWorkflow(deps: ManageDeps, id: string, opts: ForkOptions): Promise<string> {
  const startStep = opts.startStep ?? 0;
  const newId = opts.newId ?? randomUUID();
  const result = await store.forkWorkflow(deps.pool, deps.schema, {
    originalId: id,
    newId,
    startStep,
    appVersion: opts.appVersion ?? deps.appVersion,
    // a queue other than the internal one is taken as given: a Client may fork onto a queue it
    // does not serve
    queue: opts.queue ?? INTERNAL_QUEUE,
    // as for a Client's enqueue: whichever executor claims it stamps its own
    executorId: 'client',
  });
  switch (result.kind) {
    case 'forked':
      return newId;
    case 'unknown':
      throw unknown(id);
    case 'beyond':
      throw new ConfigError(
        `forkWorkflow options.startStep: ${startStep} is beyond the ${result.steps} recorded step(s) ` +
          `of workflow '${id}' (step IDs count from 0; at most ${result.steps})`,
      );
    case 'exists':
      throw new ConflictError(`forkWorkflow options.newId: a workflow with ID '${newId}' already exists`);
  }
}

export async function deleteWorkflow(deps: ManageDeps, id: string, opts: { children?: boolean }): Promise<void> {
  const children = opts.children ?? false;
  // a running workflow is cancelled first (its executor is told), so it writes nothing more
  // after its rows are gone; cancelling one also cancels its children
  for (const w of await store.listWorkflowTree(deps.pool, deps.schema, id, children)) {
    if (LIVE.has(w.status)) await deps.cancel(w.id);
  }
  await store.deleteWorkflows(deps.pool, deps.schema, id, children);
}

export async function setWorkflowPriority(deps: ManageDeps, id: string, priority: number): Promise<void> {
  // only an ENQUEUED workflow is re-ordered: a running or finished one keeps its priority
  const found = await store.setWorkflowPriority(deps.pool, deps.schema, id, priority);
  if (!found) throw unknown(id);
}

function unknown(id: string): SkeinError {
  return new SkeinError(`no workflow with ID '${id}'`);
}
