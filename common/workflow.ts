// Workflow definitions and how a thread finds them. Runs on both sides: the main thread scans
// the workflows module for names, options and the app version; worker threads scan it to run
// the bodies. Definitions are branded with a Symbol.for key, not kept in a registry, so every
// copy of skein's own modules (CommonJS and ESM, src and dist, tsx's per-import namespaces)
// recognises them.
import { ConfigError, type ErrorClass } from './errors.ts';
import type { StepOptions } from './retry.ts';
import type { WorkflowStatus } from './status.ts';
import type { PoolClient } from 'pg';
import { checkOptions, WORKFLOW_OPTIONS } from './options.ts';
import { checkText, MAX_NAME_LENGTH } from './validate.ts';

export type { StepOptions } from './retry.ts';

const BRAND = Symbol.for('skein.workflow/v1');

export interface WorkflowOptions {
  /** dispatches of one workflow before it is dead-lettered; default 100 */
  maxRecoveryAttempts?: number | undefined;
  /** cron, 5 or 6 fields (seconds first); the workflow's input is the scheduled Date (not supported yet: refused at launch) */
  schedule?: string | undefined;
  /** IANA time zone of `schedule`; default UTC (not supported yet: refused at launch) */
  timezone?: string | undefined;
  /** the queue scheduled runs go to (not supported yet: refused at launch) */
  queue?: string | undefined;
}

export interface StepContext {
  readonly workflowId: string;
  readonly stepId: number;
  /** 1-based */
  readonly attempt: number;
  /** aborted when the workflow is cancelled or passes its deadline */
  readonly signal: AbortSignal;
}

/** Postgres isolation levels a transaction may ask for. */
export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

/** Options of ctx.transaction. */
export interface TransactionOptions {
  /** default 'read committed' (Postgres's own default) */
  isolation?: IsolationLevel | undefined;
  /** a read-only transaction records its output only in the checkpoint: running it twice writes nothing */
  readOnly?: boolean | undefined;
  /** a key of SkeinConfig.datasources; default 'app' */
  datasource?: string | undefined;
}

/**
 * What a transaction's function gets: a node-postgres client inside an open transaction, so
 * Drizzle (`drizzle(tx)`), Kysely or Knex can wrap it. skein begins and commits: the function
 * must not COMMIT, ROLLBACK or release it.
 */
export type TransactionClient = PoolClient;

export interface WorkflowContext {
  readonly workflowId: string;
  /** aborted when this workflow is cancelled or passes its deadline */
  readonly signal: AbortSignal;
  step<T>(name: string, fn: (s: StepContext) => T | Promise<T>, opts?: StepOptions): Promise<T>;
  now(): Promise<Date>;
  random(): Promise<number>;
  uuid(): Promise<string>;
  /** durable sleep: after a restart it wakes at the originally recorded time */
  sleep(ms: number): Promise<void>;
  /** exactly-once message to another workflow (it may not exist yet) */
  send<T>(destinationId: string, message: T, topic?: string): Promise<void>;
  /** the oldest message on `topic` (none: messages sent without one); null on timeout */
  recv<T>(topic?: string, opts?: { timeoutMs?: number | undefined }): Promise<T | null>;
  /** publishes or overwrites this workflow's event `key` */
  setEvent<T>(key: string, value: T): Promise<void>;
  /** the latest value of another workflow's event, waiting for it to exist; null on timeout */
  getEvent<T>(workflowId: string, key: string, opts?: { timeoutMs?: number | undefined }): Promise<T | null>;
  /**
   * Starts a child workflow. Its default ID derives from this workflow's ID and the step
   * number, so a replay finds the same child and starts nothing new.
   */
  startWorkflow<I, O>(wf: Workflow<I, O>, input: I, opts?: ChildOptions): Promise<ChildHandle<O>>;
  /**
   * Runs `fn` in one Postgres transaction on a datasource, on this thread, and records its
   * output in that same transaction: it commits exactly once, and a replay returns the
   * recorded output without running it. Serialization failures and deadlocks are retried.
   */
  transaction<T>(name: string, fn: (tx: TransactionClient) => Promise<T>, opts?: TransactionOptions): Promise<T>;
}

/** Options of a child start (those of StartOptions that apply inside a workflow). */
export interface ChildOptions {
  id?: string | undefined;
  queue?: string | undefined;
  priority?: number | undefined;
  dedupId?: string | undefined;
  /** the child's deadline, counted from when it starts running; never later than its parent's */
  timeoutMs?: number | undefined;
  /** the child starts no sooner than this many ms after its start is recorded */
  delayMs?: number | undefined;
  /** the child starts no sooner than this */
  startAt?: Date | undefined;
  /** the partition of its queue the child counts in */
  partitionKey?: string | undefined;
}

/** A handle inside a workflow: what it reads is recorded, so a replay reads the same. */
export interface ChildHandle<O> {
  readonly id: string;
  result(): Promise<O>;
  /** the child's status without input and output, as of the first run (a replay reads the same) */
  status(): Promise<WorkflowStatus | null>;
}

export type WorkflowFn<I, O> = (ctx: WorkflowContext, input: I) => Promise<O>;

export interface Workflow<I = unknown, O = unknown> {
  readonly name: string;
  readonly fn: WorkflowFn<I, O>;
  readonly options: Readonly<Required<Pick<WorkflowOptions, 'maxRecoveryAttempts'>>> &
    Readonly<WorkflowOptions>;
  /** carries I and O for type inference only; never set */
  readonly __types?: { input: I; output: O };
}

export const DEFAULT_MAX_RECOVERY_ATTEMPTS = 100;

export function workflow<I, O>(
  name: string,
  fn: WorkflowFn<I, O>,
  given?: WorkflowOptions,
): Workflow<I, O> {
  checkText('workflow name', name, MAX_NAME_LENGTH);
  if (typeof fn !== 'function') {
    throw new ConfigError(`workflow '${name}': the body must be a function`);
  }
  const options = checkOptions<WorkflowOptions>(`workflow '${name}' options`, given, WORKFLOW_OPTIONS);
  const max = options.maxRecoveryAttempts ?? DEFAULT_MAX_RECOVERY_ATTEMPTS;
  const def = { name, fn, options: Object.freeze({ ...options, maxRecoveryAttempts: max }) };
  Object.defineProperty(def, BRAND, { value: true });
  return Object.freeze(def);
}

export function isWorkflow(value: unknown): value is Workflow {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
}

export interface ScannedModule {
  workflows: ReadonlyMap<string, Workflow>;
  /** exported Error subclasses by name: decoded errors become instances of these */
  errorClasses: ReadonlyMap<string, ErrorClass>;
}

/**
 * Collects the workflows and error classes a module exports. Looks at the namespace and at its
 * `default` object too, because CommonJS interop (tsx's require hook) puts exports there.
 */
export function scanModule(namespace: Record<string, unknown>): ScannedModule {
  const workflows = new Map<string, Workflow>();
  const errorClasses = new Map<string, ErrorClass>();
  const sources = [namespace];
  const dflt = namespace.default;
  if (typeof dflt === 'object' && dflt !== null) sources.push(dflt as Record<string, unknown>);
  for (const source of sources) {
    for (const value of Object.values(source)) {
      if (isWorkflow(value)) {
        const seen = workflows.get(value.name);
        if (seen && seen !== value) {
          throw new ConfigError(`two workflows are named '${value.name}'`);
        }
        workflows.set(value.name, value);
      } else if (typeof value === 'function' && value.prototype instanceof Error) {
        errorClasses.set(value.name, value as ErrorClass);
      }
    }
  }
  return { workflows, errorClasses };
}
