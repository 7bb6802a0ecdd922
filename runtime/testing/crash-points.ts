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
import { ConfigError, SkeinError, TimeoutError } from '../../common/errors.ts';
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
  /** the outcome every run must have; default: the uncrashed run's */
  expect?: O;
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
  runs.problems = (got) => (same(got, expected) ? [] : [`${describe(got)}; ${wanted}`]);

  const points: CrashPoint[] = [];
  for (const s of steps) {
    if (where !== 'mid-step') points.push({ where: 'after-checkpoint', stepId: s.stepId, step: s.name });
    if (where !== 'after-checkpoint' && bodies.has(s.stepId) && !s.name.startsWith(RESERVED_STEP_PREFIX)) {
      points.push({ where: 'mid-step', stepId: s.stepId, step: s.name });
    }
  }
  const results: CrashPointResult[] = [];
  if (!same(baseline, expected)) {
    results.push({ where: 'after-checkpoint', stepId: -1, step: '(no crash)', workflowId: baselineId, reached: true, problems: runs.problems(baseline) });
  }
  const crash = opts.process ? crashProcessAt : crashThreadAt;
  for (const [i, point] of points.entries()) results.push(await crash(runs, `${prefix}-${i}`, point));
  const report: CrashPointReport = { workflow: wf.name, baselineId, points: results };
  const failed = results.filter((r) => r.problems.length > 0);
  if (failed.length > 0) throw new CrashPointError(message(report, failed), report);
  return report;
}

/** What every run of one everyCrashPoint call shares. */
interface Runs<I, O> {
  skein: Skein;
  access: TestAccess;
  wf: Workflow<I, O>;
  input: I;
  timeoutMs: number;
  /** what is wrong with an outcome: empty when it is the expected one */
  problems(got: Outcome): string[];
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
  return { ...point, workflowId, reached, problems: [...unreached, ...again, ...runs.problems(outcome)] };
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
  try {
    await begin();
    try {
      return { ok: true, value: await runs.skein.retrieve<O>(id).result({ timeoutMs: runs.timeoutMs }) };
    } catch (err) {
      if (err instanceof TimeoutError) {
        throw new SkeinError(`everyCrashPoint: workflow ${id} did not finish within ${runs.timeoutMs} ms (timeoutMs)`, { cause: err });
      }
      const e = err as Error;
      return { ok: false, name: String(e?.name), message: String(e?.message) };
    }
  } finally {
    unwatch();
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

function message(report: CrashPointReport, failed: CrashPointResult[]): string {
  const lines = failed.map((r) =>
    r.stepId < 0
      ? `  ✘ uncrashed run: ${r.problems.join('; ')}`
      : `  ✘ ${r.where} of step ${r.stepId} '${r.step}' (workflow ${r.workflowId}): ${r.problems.join('; ')}`,
  );
  return `everyCrashPoint('${report.workflow}'): ${failed.length} of ${report.points.length} crash points failed\n${lines.join('\n')}`;
}
