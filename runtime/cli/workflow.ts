// `skein workflow ...`: list, inspect and manage workflows through a Client, so they work on
// workflows of any process, running or not (README "Managing workflows").
import type { Command } from 'commander';
import { SkeinError } from '../../common/errors.ts';
import type { Status } from '../../common/status.ts';
import type { Client } from '../client.ts';
import type { ListFilter } from '../options.ts';
import type { StepInfo, WorkflowStatus } from '../status.ts';
import { action, type Cli } from './context.ts';
import { withClient } from './database.ts';
import { compact, errorLine, fields, took, utc, when, whenUtc } from './format.ts';
import { nonNegativeInteger, pointInTime, positiveInteger, repeated, statuses } from './parse.ts';

interface ListOptions {
  status?: Status[];
  name?: string[];
  queue?: string;
  since?: Date;
  until?: Date;
  limit: number;
  offset?: number;
  idPrefix?: string;
  executor?: string;
  appVersion?: string;
  parent?: string;
  forkedFrom?: string;
  schedule?: string;
  user?: string;
  asc?: boolean;
  desc?: boolean;
}

const DEFAULT_LIMIT = 20;

export function workflowCommands(program: Command): void {
  const wf = program.command('workflow').description('list, inspect and manage workflows');

  wf.command('list')
    .description('list workflows, newest first')
    .option('--status <statuses>', 'only these statuses (repeatable, or comma-separated): PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED', statuses)
    .option('--name <name>', 'only workflows of this name (repeatable)', repeated)
    .option('--queue <queue>', 'only workflows of this queue')
    .option('--since <when>', 'created at or after: a duration ago (30s, 15m, 1h, 2d) or an ISO date (UTC unless it says)', (v) => pointInTime(v))
    .option('--until <when>', 'created at or before, as --since', (v) => pointInTime(v))
    .option('--limit <n>', 'at most this many', positiveInteger, DEFAULT_LIMIT)
    .option('--offset <n>', 'skip this many first', nonNegativeInteger)
    .option('--id-prefix <prefix>', 'only IDs starting with this')
    .option('--executor <id>', 'only workflows of this executor')
    .option('--app-version <version>', 'only workflows of this app version')
    .option('--parent <id>', 'only children of this workflow')
    .option('--forked-from <id>', 'only forks of this workflow')
    .option('--schedule <id>', "only runs of this schedule (a dynamic schedule's ID, or a scheduled workflow's name)")
    .option('--user <user>', 'only workflows started for this user')
    .option('--asc', 'oldest first')
    .option('--desc', 'newest first (the default)')
    .action(action<ListOptions>(list));

  wf.command('get')
    .description("one workflow: its status, input, output or error, and times")
    .argument('<id>', 'workflow ID')
    .action(action<object, [string]>(get));

  wf.command('steps')
    .description("a workflow's recorded steps, in order, with their outputs or errors")
    .argument('<id>', 'workflow ID')
    .action(action<object, [string]>(steps));

  wf.command('cancel')
    .description('cancel a workflow and its children: an enqueued one never starts, a running one stops at its next step')
    .argument('<id>', 'workflow ID')
    .option('--force', "also end the thread of a step that has not returned within the executor's stepKillGraceMs")
    .action(action<{ force?: boolean }, [string]>(cancel));

  wf.command('resume')
    .description('run a CANCELLED, MAX_RECOVERY_ATTEMPTS_EXCEEDED or ENQUEUED workflow again from its last completed step')
    .argument('<id>', 'workflow ID')
    .action(action<object, [string]>(resume));

  wf.command('fork')
    .description('start a new workflow with the same name and input, copying the steps below --start-step')
    .argument('<id>', 'workflow ID to fork')
    .option('--start-step <n>', 'steps below this one are copied, not run again (step IDs count from 0)', nonNegativeInteger, 0)
    .option('--new-id <id>', "the new workflow's ID (default: a random UUID)")
    .option('--app-version <version>', "the app version it runs under (default: the original's)")
    .option('--queue <queue>', "the queue it waits in (default: skein's internal queue, which every executor serves)")
    .action(action<{ startStep: number; newId?: string; appVersion?: string; queue?: string }, [string]>(fork));

  wf.command('restart')
    .description('fork a workflow from step 0: run it again from the start under a new ID')
    .argument('<id>', 'workflow ID')
    .action(action<object, [string]>(async (cli, _o, id) => fork(cli, { startStep: 0 }, id)));

  wf.command('delete')
    .description('delete a workflow: its status, steps, messages to it and events (a running one is cancelled first)')
    .argument('<id>', 'workflow ID')
    .option('--children', 'its descendants too')
    .action(action<{ children?: boolean }, [string]>(remove));
}

async function list(cli: Cli, o: ListOptions): Promise<void> {
  if (o.asc && o.desc) throw new SkeinError('give --asc or --desc, not both');
  const filter: ListFilter = {
    status: o.status,
    name: o.name,
    queue: o.queue,
    since: o.since,
    until: o.until,
    limit: o.limit,
    offset: o.offset,
    idPrefix: o.idPrefix,
    executorId: o.executor,
    appVersion: o.appVersion,
    parentId: o.parent,
    forkedFrom: o.forkedFrom,
    scheduleId: o.schedule,
    user: o.user,
    desc: !o.asc,
  };
  for (const key of Object.keys(filter) as (keyof ListFilter)[]) if (filter[key] === undefined) delete filter[key];
  const found = await withClient(cli, (client) => client.listWorkflows(filter));
  const more = found.length === o.limit ? `(the first ${o.limit}: --limit and --offset show more)` : undefined;
  cli.list(found, [
    { header: 'ID', value: (w) => w.id, max: 40 },
    { header: 'NAME', value: (w) => w.name, max: 24 },
    { header: 'STATUS', value: (w) => w.status },
    { header: 'QUEUE', value: (w) => w.queue ?? '-', max: 20 },
    { header: 'CREATED (UTC)', value: (w) => when(w.createdAt) },
    { header: 'INPUT', value: (w) => ('input' in w ? compact(w.input) : '-'), max: 24 },
    { header: 'OUTPUT / ERROR', value: outcome, max: 40 },
  ], 'no workflows match', more);
}

/** A finished workflow's output, or its error as `Name: message`. */
function outcome(w: WorkflowStatus): string {
  if (w.error !== undefined) return errorLine(w.error);
  return 'output' in w ? compact(w.output) : '-';
}

async function get(cli: Cli, _o: object, id: string): Promise<void> {
  const w = await withClient(cli, (client) => existing(client, id));
  cli.show(w, () =>
    fields([
      ['id', w.id],
      ['name', w.name],
      ['status', w.status],
      ['queue', w.queue],
      ['priority', w.queue ? String(w.priority) : undefined],
      ['partition', w.partitionKey],
      ['dedup ID', w.dedupId],
      ['parent', w.parentId],
      ['forked from', w.forkedFrom],
      ['schedule', w.scheduleId],
      ['user', w.user],
      ['executor', w.executorId],
      ['app version', w.appVersion ?? '- (any)'],
      ['attempts', String(w.attempts)],
      ['created', whenUtc(w.createdAt)],
      ['start at', w.startAt && whenUtc(w.startAt)],
      ['started', w.startedAt && whenUtc(w.startedAt)],
      ['completed', w.completedAt && `${whenUtc(w.completedAt)}, took ${took(w.startedAt ?? w.createdAt, w.completedAt)}`],
      ['timeout', w.timeoutMs === undefined ? undefined : `${w.timeoutMs} ms`],
      ['deadline', w.deadline && whenUtc(w.deadline)],
      ['input', 'input' in w ? compact(w.input) : undefined],
      ['output', 'output' in w ? compact(w.output) : undefined],
      ['error', w.error === undefined ? undefined : fullError(w.error)],
    ]),
  );
}

/** The whole error: its stack (which starts with `Name: message`) and its own properties. */
function fullError(error: unknown): string {
  if (!(error instanceof Error)) return compact(error);
  const own = Object.keys(error).length ? `\n${compact(Object.fromEntries(Object.entries(error)))}` : '';
  return `${error.stack ?? errorLine(error)}${own}`;
}

async function steps(cli: Cli, _o: object, id: string): Promise<void> {
  const found = await withClient(cli, async (client) => {
    await existing(client, id); // an unknown ID is an error, not "no steps"
    return client.getWorkflowSteps(id);
  });
  const children = found.some((s) => s.childWorkflowId !== undefined);
  cli.list<StepInfo>(found, [
    { header: 'STEP', value: (s) => String(s.stepId), right: true },
    { header: 'NAME', value: (s) => s.name, max: 32 },
    { header: 'COMPLETED (UTC)', value: (s) => (s.completedAt ? utc(s.completedAt) : '-') },
    { header: 'TOOK', value: (s) => took(s.startedAt, s.completedAt), right: true },
    ...(children ? [{ header: 'CHILD', value: (s: StepInfo) => s.childWorkflowId ?? '-', max: 40 }] : []),
    { header: 'OUTPUT / ERROR', value: (s) => (s.error !== undefined ? errorLine(s.error) : 'output' in s ? compact(s.output) : '-'), max: 60 },
  ], `workflow ${id} has no recorded steps`);
}

async function cancel(cli: Cli, o: { force?: boolean }, id: string): Promise<void> {
  const [before, after] = await withClient(cli, async (client) => {
    const was = await existing(client, id);
    await client.cancelWorkflow(id, { force: o.force ?? false });
    return [was, await existing(client, id)] as const;
  });
  cli.show({ id, status: after.status, was: before.status }, () =>
    after.status === 'CANCELLED' && before.status !== 'CANCELLED'
      ? `cancelled ${id} (was ${before.status}) and its children`
      : `workflow ${id} is ${after.status}: nothing to cancel`,
  );
}

async function resume(cli: Cli, _o: object, id: string): Promise<void> {
  const after = await withClient(cli, async (client) => {
    await client.resumeWorkflow(id);
    return existing(client, id);
  });
  cli.show({ id, status: after.status, queue: after.queue }, () =>
    after.status === 'ENQUEUED'
      ? `resumed ${id}: ENQUEUED on ${after.queue}, for an executor of its app version to run from its last completed step`
      : `workflow ${id} is ${after.status}`,
  );
}

async function fork(cli: Cli, o: { startStep: number; newId?: string; appVersion?: string; queue?: string }, id: string): Promise<void> {
  const handle = await withClient(cli, (client) =>
    client.forkWorkflow(id, {
      startStep: o.startStep,
      ...(o.newId !== undefined && { newId: o.newId }),
      ...(o.appVersion !== undefined && { appVersion: o.appVersion }),
      ...(o.queue !== undefined && { queue: o.queue }),
    }),
  );
  cli.show({ id: handle.id, forkedFrom: id, startStep: o.startStep }, () =>
    `forked ${id} from step ${o.startStep} as ${handle.id}`,
  );
}

async function remove(cli: Cli, o: { children?: boolean }, id: string): Promise<void> {
  await withClient(cli, async (client) => {
    await existing(client, id);
    await client.deleteWorkflow(id, { children: o.children ?? false });
  });
  cli.show({ id, deleted: true, children: o.children ?? false }, () =>
    `deleted ${id}${o.children ? ' and its descendants' : ''}`,
  );
}

/** The workflow's status; an ID that does not exist is an error (a Client's cancel or delete of one does nothing). */
async function existing(client: Client, id: string): Promise<WorkflowStatus> {
  const status = await client.getStatus(id);
  if (!status) throw new SkeinError(`no workflow with ID '${id}'`);
  return status;
}
