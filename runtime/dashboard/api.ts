// The dashboard's JSON API (routes and types in ./contract.ts) over a CommonApi: a Skein, or the
// Client of `skein dashboard`, which runs no workflows. Actions go through the same calls as the
// library's (cancelWorkflow, forkWorkflow...), so they validate, notify and count as those do.
// The reads CommonApi lacks, or that it would decode whole (payloads, steps), are in
// storage/inspect.ts; the list's pages by cursor come from storage/workflows.ts. Runs on the
// service's main thread: every answer is bounded in rows (./query.ts) and in bytes decoded
// (./shown.ts).
import type { ErrorClasses } from '../../common/codec.ts';
import { ConfigError, ConflictError } from '../../common/errors.ts';
import type { Pool } from '../../storage/database.ts';
import { getSchedule } from '../../storage/schedules.ts';
import { startsLastMinute, timelineSteps, waitingMessages, workflowEvents, workflowPayloads } from '../../storage/inspect.ts';
import { checkText, MAX_ID_LENGTH } from '../../common/validate.ts';
import type { CommonApi } from '../common-api.ts';
import type { QueueConfig } from '../config.ts';
import { validateListFilter } from '../options.ts';
import { toWorkflowStatus, type WorkflowStatus } from '../status.ts';
import { listWorkflows, type ListCursor, type ListedRow } from '../../storage/workflows.ts';
import type * as C from './contract.ts';
import { formatCursor, intParam, listFilter, listPlace, MAX_LIMIT, MAX_STEPS } from './query.ts';
import { MAX_DECODE_BYTES, Shower } from './shown.ts';
import { timeline } from './timeline.ts';

export interface DashboardSource {
  /** what the API reads and acts through */
  api: CommonApi;
  /** the same database, for storage/inspect.ts */
  pool: Pool;
  schema: string;
  /** a Skein's metrics(); absent for `skein dashboard` (GET /api/metrics is then a 404) */
  metrics?: () => Promise<unknown>;
  /** the queues this process declares, for QueueInfo's limits */
  queues?: readonly QueueConfig[];
}

export interface ApiRequest {
  method: string;
  /** the path after /api/, split on '/' and each part URL-decoded */
  parts: string[];
  query: URLSearchParams;
  /** the parsed JSON body of a POST, undefined without one */
  body: unknown;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** An answer other than 200, with the text of its ApiError. */
export class ApiFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const NO_CLASSES: ErrorClasses = new Map();

/** Queue names visited at most when counting recent starts (storage/inspect.ts startsLastMinute). */
const MAX_QUEUES = 1000;

const iso = (d: Date | undefined) => (d ? d.toISOString() : null);

/** A row of a list read with keyset (it has its cursor_at) as the page shows it. */
function listed(row: ListedRow): C.WorkflowSummary {
  // no payloads were read: nothing to decode, no error classes needed
  return summary(toWorkflowStatus(row, NO_CLASSES));
}

function place(row: ListedRow | undefined): string | null {
  return row ? formatCursor({ createdAt: row.cursor_at!, id: row.id }) : null;
}

function summary(w: WorkflowStatus): C.WorkflowSummary {
  return {
    id: w.id,
    name: w.name,
    status: w.status,
    queue: w.queue ?? null,
    executorId: w.executorId,
    appVersion: w.appVersion ?? null,
    attempts: w.attempts,
    parentId: w.parentId ?? null,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
    startedAt: iso(w.startedAt),
    completedAt: iso(w.completedAt),
  };
}

export class DashboardApi {
  readonly #s: DashboardSource;

  constructor(source: DashboardSource) {
    this.#s = source;
  }

  /** Answers one request; a refusal the caller caused is a 4xx with its reason, anything else throws. */
  async handle(req: ApiRequest): Promise<ApiResponse> {
    try {
      return { status: 200, body: await this.#route(req) };
    } catch (err) {
      if (err instanceof ApiFailure) return { status: err.status, body: { error: err.message } };
      if (err instanceof ConfigError) return { status: 400, body: { error: err.message } };
      if (err instanceof ConflictError) return { status: 409, body: { error: err.message } };
      throw err;
    }
  }

  #route(req: ApiRequest): Promise<unknown> {
    const [collection, rawId, action, ...rest] = req.parts;
    const post = req.method === 'POST';
    if (rest.length > 0 || (!post && req.method !== 'GET' && req.method !== 'HEAD')) throw notFound(req);
    if (rawId === undefined) {
      if (post) throw notFound(req);
      switch (collection) {
        case 'workflows': return this.#list(req.query);
        case 'queues': return this.#queues();
        case 'schedules': return this.#schedules();
        case 'executors': return this.#executors();
        case 'metrics': return this.#metrics();
      }
      throw notFound(req);
    }
    const id = checkText(`${collection ?? ''} ID`, rawId, MAX_ID_LENGTH);
    if (collection === 'workflows') return post ? this.#workflowAction(id, action, req) : this.#workflowRead(id, action, req);
    if (collection === 'schedules' && post && action !== undefined) return this.#scheduleAction(id, action, req);
    throw notFound(req);
  }

  /**
   * A page of the list, newest first. Read from storage, not through CommonApi.listWorkflows,
   * for the rows' places (cursors), which carry created_at to the microsecond; the filter is
   * checked as listWorkflows checks it. One row more than asked says whether another page follows.
   */
  async #list(q: URLSearchParams): Promise<C.WorkflowPage> {
    const { limit, ...filter } = listFilter(q);
    const { after, before } = listPlace(q);
    const checked = validateListFilter(filter);
    const read = (desc: boolean, from: ListCursor | undefined) =>
      listWorkflows(this.#s.pool, this.#s.schema, { ...checked, desc, limit: limit + 1, keyset: { after: from } });
    if (before) {
      // the rows just newer than `before`: read upwards from it, shown newest first
      const newer = await read(false, before);
      if (newer.length > limit) {
        const page = newer.slice(0, limit).reverse();
        return { workflows: page.map(listed), hasMore: true, next: place(page.at(-1)), prev: place(page[0]) };
      }
      // less than a page is newer: that is the first page (answered below)
    }
    const rows = await read(true, after);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    const first = !after && !filter.offset;
    return { workflows: page.map(listed), hasMore, next: hasMore ? place(page.at(-1)) : null, prev: first ? null : place(page[0]) };
  }

  async #summary(id: string): Promise<WorkflowStatus> {
    const [w] = await this.#s.api.listWorkflows({ ids: [id], loadInput: false, loadOutput: false });
    if (!w) throw new ApiFailure(404, `no workflow with ID '${id}'`);
    return w;
  }

  async #workflowRead(id: string, what: string | undefined, req: ApiRequest): Promise<unknown> {
    const { pool, schema } = this.#s;
    const show = new Shower();
    const limits = { limit: intParam(req.query, 'limit', MAX_LIMIT, MAX_LIMIT), maxBytes: MAX_DECODE_BYTES };
    // a workflow that does not exist is a 404 for its parts too, not an empty list
    const w = await this.#summary(id);
    switch (what) {
      case undefined: {
        const p = await workflowPayloads(pool, schema, id, MAX_DECODE_BYTES);
        if (!p) throw new ApiFailure(404, `no workflow with ID '${id}'`);
        const detail: C.WorkflowDetail = {
          ...summary(w),
          input: show.value(p.input),
          output: show.value(p.output),
          error: show.error(p.error),
          priority: w.priority,
          dedupId: w.dedupId ?? null,
          forkedFrom: w.forkedFrom ?? null,
          scheduleId: w.scheduleId ?? null,
          deadline: iso(w.deadline),
          startAt: iso(w.startAt),
        };
        return detail;
      }
      case 'steps': return this.#steps(id, req.query, show);
      case 'children': {
        const rows = await this.#s.api.listWorkflows({ parentId: id, limit: limits.limit, loadInput: false, loadOutput: false });
        return { workflows: rows.map(summary) };
      }
      case 'events': {
        const rows = await workflowEvents(pool, schema, id, limits);
        const events: C.EventInfo[] = rows.map((e) => ({ key: e.key, value: show.value(e.value)!, updatedAt: e.updatedAt.toISOString() }));
        return { events };
      }
      case 'messages': {
        const rows = await waitingMessages(pool, schema, id, limits);
        const messages: C.MessageInfo[] = rows.map((m) => ({ topic: m.topic, message: show.value(m.message)!, createdAt: m.createdAt.toISOString() }));
        return { messages };
      }
    }
    throw notFound(req);
  }

  /**
   * Up to `limit` (default and cap MAX_STEPS) steps from step ID `from` (default 0). Beside the
   * contract's `steps`, `hasMore` says whether steps follow (ask again with `from`).
   */
  async #steps(id: string, q: URLSearchParams, show: Shower): Promise<C.StepPage> {
    const from = intParam(q, 'from', 0, 2_147_483_647);
    const limit = intParam(q, 'limit', MAX_STEPS, MAX_STEPS);
    // the step before the page too, when there is one: a wait's bar begins at its deadline step
    const lead = from > 0 ? 1 : 0;
    const rows = await timelineSteps(this.#s.pool, this.#s.schema, id, { fromStep: from - lead, limit: limit + lead + 1, maxBytes: MAX_DECODE_BYTES });
    const before = lead && rows[0]?.stepId === from - 1 ? rows.shift() : undefined;
    const page = rows.slice(0, limit);
    return { steps: timeline(page, show, before), hasMore: rows.length > limit };
  }

  async #workflowAction(id: string, action: string | undefined, req: ApiRequest): Promise<C.ActionResult> {
    const api = this.#s.api;
    if (action !== 'fork') noBody(req);
    // before acting: an unknown ID is a 404, not whatever the action would make of it
    await this.#summary(id);
    switch (action) {
      case 'cancel':
        await api.cancelWorkflow(id);
        return { ok: true };
      case 'resume':
        return { ok: true, id: (await api.resumeWorkflow(id)).id };
      case 'restart':
        return { ok: true, id: (await api.restartWorkflow(id)).id };
      case 'fork':
        return { ok: true, id: (await api.forkWorkflow(id, forkBody(req.body))).id };
    }
    throw notFound(req);
  }

  async #scheduleAction(id: string, action: string, req: ApiRequest): Promise<C.ActionResult> {
    const api = this.#s.api;
    noBody(req);
    if (!['pause', 'resume', 'trigger'].includes(action)) throw notFound(req);
    if (!(await getSchedule(this.#s.pool, this.#s.schema, id))) throw new ApiFailure(404, `no schedule with ID '${id}'`);
    if (action === 'pause') await api.pauseSchedule(id);
    else if (action === 'resume') await api.resumeSchedule(id);
    else return { ok: true, id: (await api.triggerSchedule(id)).id };
    return { ok: true };
  }

  async #queues(): Promise<{ queues: C.QueueInfo[] }> {
    const { pool, schema, api } = this.#s;
    const [summaries, starts] = await Promise.all([api.listQueues(), startsLastMinute(pool, schema, MAX_QUEUES)]);
    const configs = new Map((this.#s.queues ?? []).map((q) => [q.name, q]));
    const bySummary = new Map(summaries.map((s) => [s.queue, s]));
    const names = [...new Set([...bySummary.keys(), ...configs.keys(), ...starts.keys()])].sort();
    const queues = names.map((name): C.QueueInfo => {
      const s = bySummary.get(name);
      const config = configs.get(name);
      return {
        name,
        enqueued: s?.enqueued ?? 0,
        delayed: s?.delayed ?? 0,
        running: s?.running ?? 0,
        runningByExecutor: s?.runningByExecutor ?? {},
        startedLastMinute: starts.get(name) ?? 0,
        rateLimit: config?.rateLimit ? { limit: config.rateLimit.limit, periodMs: config.rateLimit.periodMs } : null,
        concurrency: config?.concurrency ?? null,
      };
    });
    return { queues };
  }

  async #schedules(): Promise<{ schedules: C.ScheduleSummary[] }> {
    const rows = await this.#s.api.listSchedules();
    return {
      schedules: rows.map((s) => ({
        id: s.id, workflow: s.workflow, cron: s.cron, timezone: s.timezone,
        queue: s.queue ?? null, paused: s.paused, nextAt: s.nextAt.toISOString(),
      })),
    };
  }

  async #executors(): Promise<{ executors: C.ExecutorSummary[] }> {
    const rows = await this.#s.api.listExecutors();
    return { executors: rows.map((e) => ({ ...e, startedAt: e.startedAt.toISOString(), lastSeenAt: e.lastSeenAt.toISOString() })) };
  }

  async #metrics(): Promise<unknown> {
    if (!this.#s.metrics) throw new ApiFailure(404, 'no metrics here: this server runs no workflows (skein dashboard); see a service\'s own admin server');
    return this.#s.metrics();
  }
}

function notFound(req: ApiRequest): ApiFailure {
  return new ApiFailure(404, `no such API: ${req.method} /api/${req.parts.map(encodeURIComponent).join('/')}`);
}

/** Actions other than fork take no body: one given is a mistake the caller should hear of. */
function noBody(req: ApiRequest): void {
  if (req.body !== undefined && req.body !== null && !(typeof req.body === 'object' && Object.keys(req.body).length === 0)) {
    throw new ConfigError('this action takes no body');
  }
}

/** The fork body: { startStep?: number }, nothing else (forkWorkflow checks the value). */
function forkBody(body: unknown): { startStep?: number } {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new ConfigError('the fork body must be a JSON object { startStep?: number }');
  const { startStep, ...rest } = body as { startStep?: unknown };
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new ConfigError(`the fork body has unknown field ${JSON.stringify(unknown[0])}: only startStep`);
  return startStep === undefined ? {} : { startStep: startStep as number };
}
