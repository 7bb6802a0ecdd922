// The dashboard's JSON API: what the admin server (runtime/dashboard/api.ts) answers and the page
// (runtime/dashboard/ui/) reads. Types only, shared by both sides, so neither drifts. Every text
// a workflow wrote (names, IDs, payloads, errors) arrives as data and the page shows it as text:
// never as HTML.
//
// Routes (all under the admin server; GET unless said):
//   GET  /api/workflows?status=A,B&name=&queue=&idPrefix=&since=<ISO>&until=<ISO>&limit=50
//        &after=<cursor> | &before=<cursor> | &offset=0
//                                         -> WorkflowPage   (newest first; filters on indexed columns;
//                                            pages by cursor (next, prev); offset is kept for old links)
//   GET  /api/workflows/:id               -> WorkflowDetail (404 ApiError when there is none)
//   GET  /api/workflows/:id/steps?from=0  -> StepPage       (up to 1000 steps from step `from`)
//   GET  /api/workflows/:id/children      -> { workflows: WorkflowSummary[] }
//   GET  /api/workflows/:id/events        -> { events: EventInfo[] }
//   GET  /api/workflows/:id/messages      -> { messages: MessageInfo[] }  (waiting in its inbox; one received is a recv step)
//   GET  /api/queues                      -> { queues: QueueInfo[] }
//   GET  /api/schedules                   -> { schedules: ScheduleSummary[] }
//   GET  /api/executors                   -> { executors: ExecutorSummary[] }
//   GET  /api/metrics                     -> the Skein's metrics() as JSON (404 from `skein dashboard`, which runs no workflows)
//   POST /api/workflows/:id/cancel|resume|restart      -> ActionResult
//   POST /api/workflows/:id/fork   body { startStep?: number } -> ActionResult
//   POST /api/schedules/:id/pause|resume|trigger       -> ActionResult
// A POST must carry the header `x-skein-csrf` with the value the page reads from
// `<meta name="skein-csrf">` (and the token, as for GETs, when the server has one); a POST
// without it, or from another Origin, is refused with 403 before anything is done.
// Errors: a status >= 400 with ApiError.
// `:id` is URL-encoded (encodeURIComponent); IDs may hold any character.

import type { Status } from '../../common/status.ts';

/** A payload (input, output, event value, message) decoded and shown as text on the server. */
export interface Shown {
  /** util.inspect of the decoded value, cut to a bounded length */
  text: string;
  /** the text was cut, or the value was too large to decode for display */
  truncated: boolean;
  bytes: number;
}

/** the statuses of common/status.ts (a type import: nothing of it reaches the page) */
export type WorkflowStatusName = Status;

export interface WorkflowSummary {
  id: string;
  name: string;
  status: WorkflowStatusName;
  queue: string | null;
  executorId: string;
  appVersion: string | null;
  attempts: number;
  parentId: string | null;
  /** ISO 8601 */
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface WorkflowPage {
  workflows: WorkflowSummary[];
  /** more rows past this page (the server read limit + 1) */
  hasMore: boolean;
  /**
   * `after=` this for the page of older rows; null when there is none. A cursor is the place of
   * a row in the list, so paging costs the same at any depth and rows arriving meanwhile do not
   * shift the pages (an offset reads and skips every row before it).
   */
  next: string | null;
  /**
   * `before=` this for the page of newer rows; null on the first page. Asked for with fewer
   * than a page of newer rows left, the API answers the first page.
   */
  prev: string | null;
}

export interface WorkflowDetail extends WorkflowSummary {
  input: Shown | null;
  output: Shown | null;
  /** the error's class name, message and stack as text */
  error: { name: string; message: string; stack: string | null } | null;
  priority: number;
  dedupId: string | null;
  forkedFrom: string | null;
  scheduleId: string | null;
  deadline: string | null;
  startAt: string | null;
}

/**
 * One bar of the timeline. `kind`: what the step was. `startedAt`..`completedAt` is the bar;
 * a wait (sleep, recv, getEvent, a child's result) is drawn from when it began to when it ended.
 */
export interface TimelineStep {
  stepId: number;
  name: string;
  kind: 'step' | 'transaction' | 'sleep' | 'wait' | 'send' | 'event' | 'child' | 'value';
  startedAt: string | null;
  completedAt: string;
  /** tries of the step's function (retries + 1); 1 when unknown */
  attempts: number;
  /** the step's recorded error, if it failed */
  error: { name: string; message: string } | null;
  output: Shown | null;
  childWorkflowId: string | null;
  /** a sleep: when it was to wake (ISO) */
  wakeAt: string | null;
}

export interface StepPage {
  steps: TimelineStep[];
  /** steps follow this page: ask again with `from` past its last stepId */
  hasMore: boolean;
}

export interface EventInfo {
  key: string;
  value: Shown;
  updatedAt: string;
}

/** A message waiting in the workflow's inbox (received ones are deleted: they are recv steps). */
export interface MessageInfo {
  /** '' for a message sent without a topic */
  topic: string;
  message: Shown;
  createdAt: string;
}

export interface QueueInfo {
  name: string;
  enqueued: number;
  delayed: number;
  running: number;
  runningByExecutor: Record<string, number>;
  /** workflows that started in the last minute, all processes (the page charts it over time) */
  startedLastMinute: number;
  /** as this process declares the queue; null when it does not (or `skein dashboard`) */
  rateLimit: { limit: number; periodMs: number } | null;
  concurrency: number | null;
}

export interface ScheduleSummary {
  id: string;
  workflow: string;
  cron: string;
  timezone: string;
  queue: string | null;
  paused: boolean;
  nextAt: string;
}

export interface ExecutorSummary {
  executorId: string;
  appVersion: string;
  host: string;
  pid: number;
  startedAt: string;
  lastSeenAt: string;
  alive: boolean;
}

export interface ActionResult {
  ok: true;
  /** the workflow the action made (fork, restart) */
  id?: string;
}

export interface ApiError {
  error: string;
}
