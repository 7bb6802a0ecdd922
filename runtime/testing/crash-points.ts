// everyCrashPoint: the crash-recovery test of any workflow in a few lines. It runs the workflow
// once uncrashed to learn its steps, then once per crash point, ending the workflow's thread
// right there (runtime/probe.ts), lets recovery finish it, and checks two things: the outcome
// is the uncrashed run's, and no step whose record had committed ran its function again.
// A side effect made outside a step (workflow code appending to a file, say) happens again on
// every replay; when it feeds the outcome, the outcome differs and the crash point that shows
// it is named.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect, isDeepStrictEqual } from 'node:util';
import { RESERVED_STEP_PREFIX } from '../../common/protocol.ts';
import { ConfigError, SkeinError } from '../../common/errors.ts';
import { skippingTime } from './clock.ts';
import { boolean, checkOptions, ms, type OptionShape } from '../../common/options.ts';
import { isWorkflow, type Workflow } from '../../common/workflow.ts';
import type { Probe } from '../probe.ts';
import type { Skein } from '../skein.ts';
import { testAccessOf, type TestAccess } from '../test-access.ts';
import type { CrashOrder } from './crash-child.ts';

/** Where a crash is made: see CrashPoint. */
export type CrashWhere = 'after-checkpoint' | 'mid-step';

export interface CrashPointOptions<O> {
  /** which crash points: after each step's record committed, inside each step, or both (default) */
  where?: CrashWhere | 'both';
  /**
   * The outcome every run must have; default: the uncrashed run's. A function judges each
   * run's result instead (true or nothing: as expected), for outcomes that differ from run to
   * run by design: a ctx.uuid(), an ID made from the workflow ID.
   */
  expect?: O | ((output: O, run: { workflowId: string }) => boolean | void);
  /**
   * Crash a whole process, not a thread: each crashed run starts in a child process (a Skein
   * on the same database) that SIGKILLs itself at the point; this Skein then recovers it.
   * Slower (a launch per crash point), and closer to a host going down.
   */
  process?: boolean;
  /** how long one run may take to finish, recovery included (default 60,000) */
  timeoutMs?: number;
}

/**
 * One crash. `after-checkpoint`: the step's record committed, the workflow has not heard back.
 * `mid-step`: the step's function ran to its end (its effects happened) and its record was not
 * written, so recovery runs it again: steps are at-least-once, their records exactly-once.
 * Only steps with a function of the user's (ctx.step, ctx.transaction) have a mid-step point.
 */
export interface CrashPoint {
  where: CrashWhere;
  stepId: number;
  /** the step's name (skein's own steps are named `skein.*`: a sleep, a send, a recv...) */
  step: string;
}

export interface CrashPointResult extends CrashPoint {
  /** the run crashed at this point */
  workflowId: string;
  /** false: the run never reached the point (its steps differed from the uncrashed run's) */
  reached: boolean;
  /** what went wrong at this point; empty when it held */
  problems: string[];
}

export interface CrashPointReport {
  workflow: string;
  /** the uncrashed run */
  baselineId: string;
  points: CrashPointResult[];
}

/** Crash points that broke, each named, in the message ava prints. */
export class CrashPointError extends SkeinError {
  override readonly code = 'CRASH_POINT';
  constructor(
    message: string,
    readonly report: CrashPointReport,
  ) {
    super(message);
  }
}

const OPTIONS: OptionShape = {
  known: {
    where: (at, v) => {
      if (v !== 'after-checkpoint' && v !== 'mid-step' && v !== 'both') {
        throw new ConfigError(`${at} must be 'after-checkpoint', 'mid-step' or 'both', got ${inspect(v)}`);
      }
    },
    expect: () => {},
    timeoutMs: ms,
    process: boolean,
  },
};

// Run from source (tsx) the child is crash-child.ts; from dist it is crash-child.js.
const CHILD = fileURLToPath(new URL(`./crash-child${extname(fileURLToPath(import.meta.url))}`, import.meta.url));

type Outcome = { ok: true; value: unknown } | { ok: false; name: string; message: string };

/**
 * Runs `wf` with `input` uncrashed, then crashed at every step boundary, on `skein` (launched
 * by the test). Resolves with the report when every crash point held; rejects with a
 * CrashPointError naming each one that did not.
 */
export async function everyCrashPoint<I, O>(
  skein: Skein,
  wf: Workflow<I, O>,
  input: I,
  given?: CrashPointOptions<O>,
): Promise<CrashPointReport> {
  const access = testAccessOf(skein, 'everyCrashPoint');
  if (!isWorkflow(wf)) throw new ConfigError('everyCrashPoint: the second argument must be a workflow made by workflow()');
  if (!access.knows(wf.name)) {
    throw new ConfigError(`everyCrashPoint: workflow '${wf.name}' is not exported by this Skein's workflows module`);
  }
  const opts = checkOptions<CrashPointOptions<O>>('everyCrashPoint options', given, OPTIONS);
  const where = opts.where ?? 'both';
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const prefix = `crash-${wf.name.slice(0, 40)}-${randomBytes(4).toString('hex')}`;

  // the uncrashed run: its steps are the crash points, its outcome the one to match
  const baselineId = `${prefix}-base`;
  const bodies = new Set<number>();
  const runs: Runs<I, O> = { skein, access, wf, input, timeoutMs, problems: () => [] };
  const baseline = await watched(runs, baselineId, {
    began: (stepId) => void bodies.add(stepId),
    ran: () => false,
    recorded: () => false,
  });
  const steps = await skein.getWorkflowSteps(baselineId);
  const expected: Outcome = 'expect' in opts ? { ok: true, value: opts.expect } : baseline;
  const wanted = 'expect' in opts ? `expected ${show(opts.expect)}` : `the uncrashed run ${describe(baseline)}`;
  runs.problems = (got, workflowId) => {
    if (typeof opts.expect === 'function') return judgedBy(opts.expect as Judge<O>, got, workflowId);
    return same(got, expected) ? [] : [`${describe(got)}; ${wanted}`];
  };

  const points: CrashPoint[] = [];
  for (const s of steps) {
    if (where !== 'mid-step') points.push({ where: 'after-checkpoint', stepId: s.stepId, step: s.name });
    if (where !== 'after-checkpoint' && bodies.has(s.stepId) && !s.name.startsWith(RESERVED_STEP_PREFIX)) {
      points.push({ where: 'mid-step', stepId: s.stepId, step: s.name });
    }
  }
  const results: CrashPointResult[] = [];
  const crash = opts.process ? crashProcessAt : crashThreadAt;
  for (const [i, point] of points.entries()) results.push(await crash(runs, `${prefix}-${i}`, point));
  const report: CrashPointReport = { workflow: wf.name, baselineId, points: results };
  // the uncrashed run is judged too (against expect), but it is no crash point
  const uncrashed = 'expect' in opts ? runs.problems(baseline, baselineId) : [];
  const failed = results.filter((r) => r.problems.length > 0);
  if (failed.length > 0 || uncrashed.length > 0) throw new CrashPointError(message(report, failed, uncrashed), report);
  return report;
}

/** What every run of one everyCrashPoint call shares. */
interface Runs<I, O> {
  skein: Skein;
  access: TestAccess;
  wf: Workflow<I, O>;
  input: I;
  timeoutMs: number;
  /** what is wrong with run `workflowId`'s outcome: empty when it is the expected one */
  problems(got: Outcome, workflowId: string): string[];
}

/** One run crashed at `point` (its thread ended there): what went wrong. */
async function crashThreadAt<I, O>(runs: Runs<I, O>, workflowId: string, point: CrashPoint): Promise<CrashPointResult> {
  let crashed = false;
  const recorded = new Set<number>();
  const again: string[] = [];
  const outcome = await watched(runs, workflowId, {
    began: (stepId, name) => {
      // a step's function may run more than once only until its record commits
      if (recorded.has(stepId)) again.push(ranAgain(stepId, name));
    },
    ran: (stepId) => !crashed && point.where === 'mid-step' && stepId === point.stepId && (crashed = true),
    recorded: (stepId) => {
      recorded.add(stepId);
      return !crashed && point.where === 'after-checkpoint' && stepId === point.stepId && (crashed = true);
    },
  });
  return judged(runs, point, workflowId, crashed, again, outcome);
}

/**
 * One run crashed at `point` in a child process: the child starts it and SIGKILLs itself there;
 * then this Skein takes the dead executor's workflow over, and its steps recorded by then must
 * not run again.
 */
async function crashProcessAt<I, O>(runs: Runs<I, O>, workflowId: string, point: CrashPoint): Promise<CrashPointResult> {
  const { skein, access, wf, input, timeoutMs } = runs;
  const executorId = `${workflowId}-process`;
  const order: CrashOrder = { ...access.setup(), executorId, name: wf.name, input, workflowId, point };
  const crashed = await new Promise<boolean>((resolve, reject) => {
    const child = fork(CHILD, [], {
      serialization: 'advanced',
      execArgv: process.execArgv,
      env: { ...process.env, SKEIN_LOG: process.env.SKEIN_LOG ?? 'warn' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) reject(new SkeinError(`everyCrashPoint: the child process running ${workflowId} did not end within ${timeoutMs} ms (timeoutMs)`));
      else if (signal === 'SIGKILL') resolve(true);
      else if (code === 0) resolve(false);
      else reject(new SkeinError(`everyCrashPoint: the child process running ${workflowId} failed (exit ${code ?? signal}); its stderr says why`));
    });
    child.send(order);
  });
  if (!crashed) return judged(runs, point, workflowId, false, [], await watched(runs, workflowId, null, async () => {}));
  const before = new Set((await skein.getWorkflowSteps(workflowId)).map((s) => s.stepId));
  const again: string[] = [];
  const probe: Probe = {
    began: (stepId, name) => void (before.has(stepId) && again.push(ranAgain(stepId, name))),
    ran: () => false,
    recorded: () => false,
  };
  const outcome = await watched(runs, workflowId, probe, async () => void (await skein.recoverPendingWorkflows([executorId])));
  return judged(runs, point, workflowId, true, again, outcome);
}

function ranAgain(stepId: number, name: string): string {
  return `step ${stepId} '${name}' ran again after its checkpoint committed`;
}

/** A crash point's result: the point reached, no step run again, the outcome expected. */
function judged<I, O>(runs: Runs<I, O>, point: CrashPoint, workflowId: string, reached: boolean, again: string[], outcome: Outcome): CrashPointResult {
  // a run that took another path than the uncrashed one (a branch on ctx.random, say) leaves
  // this point untested: said, rather than passed unseen
  const unreached = reached ? [] : ["the run never reached this point: its steps differed from the uncrashed run's"];
  return { ...point, workflowId, reached, problems: [...unreached, ...again, ...runs.problems(outcome, workflowId)] };
}

/**
 * Runs workflow `id`, watched by `probe`, and waits for its outcome. `begin` makes it run:
 * by default a start here. A start refused (an input that cannot be stored) is thrown, not
 * taken for the workflow's outcome.
 */
async function watched<I, O>(
  runs: Runs<I, O>,
  id: string,
  probe: Probe | null,
  begin: () => Promise<void> = async () => void (await runs.skein.start(runs.wf, runs.input, { id })),
): Promise<Outcome> {
  const unwatch = probe ? runs.access.watch(id, probe) : () => {};
  let timer: NodeJS.Timeout | undefined;
  try {
    await begin();
    // the kit's own timer, not result({ timeoutMs }): a workflow may end with a TimeoutError of its own
    const late = new SkeinError(`everyCrashPoint: workflow ${id} did not finish within ${runs.timeoutMs} ms (timeoutMs)`);
    const expired = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(late), runs.timeoutMs)));
    const outcome: Promise<Outcome> = runs.skein.retrieve<O>(id).result().then(
      (value) => ({ ok: true, value }),
      (err: Error) => ({ ok: false, name: String(err?.name), message: String(err?.message) }),
    );
    // on a test clock, time moves on whenever the run waits (a sleep of a day takes no day)
    return await Promise.race([skippingTime(runs.access.clock, outcome), expired]);
  } finally {
    clearTimeout(timer);
    unwatch();
  }
}

type Judge<O> = (output: O, run: { workflowId: string }) => boolean | void;

/** What an expect function says of a run: it returned, and the function held it right. */
function judgedBy<O>(judge: Judge<O>, got: Outcome, workflowId: string): string[] {
  if (!got.ok) return [`${describe(got)}; expect wanted a result`];
  try {
    return judge(got.value as O, { workflowId }) === false ? [`${describe(got)}; expect returned false`] : [];
  } catch (err) {
    return [`${describe(got)}; expect threw ${(err as Error)?.message ?? err}`];
  }
}

function same(a: Outcome, b: Outcome): boolean {
  if (a.ok !== b.ok) return false;
  if (a.ok && b.ok) return isDeepStrictEqual(a.value, b.value);
  return !a.ok && !b.ok && a.name === b.name && a.message === b.message;
}

function describe(o: Outcome): string {
  return o.ok ? `returned ${show(o.value)}` : `threw ${o.name}: ${o.message}`;
}

function show(value: unknown): string {
  const text = inspect(value, { depth: 4, breakLength: Infinity });
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function message(report: CrashPointReport, failed: CrashPointResult[], uncrashed: string[]): string {
  const lines = [
    ...(uncrashed.length > 0 ? [`  ✘ uncrashed run (workflow ${report.baselineId}): ${uncrashed.join('; ')}`] : []),
    ...failed.map((r) => `  ✘ ${r.where} of step ${r.stepId} '${r.step}' (workflow ${r.workflowId}): ${r.problems.join('; ')}`),
  ];
  const head = failed.length > 0 ? `${failed.length} of ${report.points.length} crash points failed` : 'the uncrashed run failed';
  return `everyCrashPoint('${report.workflow}'): ${head}${failed.length > 0 && uncrashed.length > 0 ? ', and the uncrashed run' : ''}\n${lines.join('\n')}`;
}
