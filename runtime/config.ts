// Launch configuration (SkeinConfig; README, Configuration): checked by common/options.ts, then
// resolved here to the values launch uses (defaults from the environment and the machine).
import { REAL_CLOCK, type Clock } from '../common/clock.ts';
import type { AdminConfig } from './admin.ts';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { validateSchemaName } from '../storage/identifiers.ts';
import { ConfigError } from '../common/errors.ts';
import { resolveWorkflowsUrl } from '../common/loader.ts';
import { boundLogger, defaultLogger, type Logger } from '../common/logger.ts';
import { checkOptions, DEFAULT_CONNECT_TIMEOUT_MS, SKEIN_CONFIG } from '../common/options.ts';
import { checkText, MAX_ID_LENGTH } from '../common/validate.ts';
import { DEFAULT_LEASE_MS, defaultExecutorId } from './registry.ts';

export interface QueueConfig {
  name: string;
  workerConcurrency?: number | undefined;
  concurrency?: number | undefined;
  rateLimit?: { limit: number; periodMs: number } | undefined;
  priority?: boolean | undefined;
  maxPerPoll?: number | undefined;
  /**
   * running workflows per `partitionKey`, across all processes (e.g. 1: one at a time per
   * customer); the queue's other limits hold as well
   */
  partitionConcurrency?: number | undefined;
}

export interface SkeinConfig {
  /** path or URL of the workflows module every worker thread imports */
  workflows: string | URL;
  /** default: SKEIN_DATABASE_URL, then DATABASE_URL, else an embedded Postgres in dataDir */
  databaseUrl?: string | undefined;
  /** where the embedded Postgres keeps its data; default `.skein/` in the working directory */
  dataDir?: string | undefined;
  schema?: string | undefined;
  threads?: number | undefined;
  workflowsPerThread?: number | undefined;
  /**
   * A wait (recv, getEvent, a child's result) still unanswered after this long leaves its
   * thread and replays on wake; a sleep longer than this leaves at once. 0: every wait parks.
   */
  parkAfterMs?: number | undefined;
  resourceLimits?: ResourceLimits | undefined;
  queues?: QueueConfig[] | undefined;
  /**
   * This process's identity in the executor registry; default SKEIN_EXECUTOR_ID, else one
   * unique to this process. Two live processes never share one (the second launch is a
   * ConfigError); a process relaunched with its old ID recovers that ID's work at launch.
   */
  executorId?: string | undefined;
  appVersion?: string | undefined;
  recover?: boolean | undefined;
  /**
   * Take over the PENDING work of executors of this app version that died (default true).
   * `leaseMs` (default 10 s): a process whose heartbeat is older than this is dead even if its
   * connection lingers; one whose connection ended is dead at once.
   */
  takeover?: boolean | { leaseMs?: number | undefined } | undefined;
  /**
   * The admin HTTP server: `/metrics` (Prometheus text) and `/healthz`. It listens on `host`
   * (default 127.0.0.1); any other host needs `token`, sent as `Authorization: Bearer <token>`.
   */
  admin?: AdminConfig | undefined;
  /**
   * How often waits (recv, getEvent, result) re-check the database in case a NOTIFY was
   * missed; default 10 s. Lower it where notifications are unreliable (a transaction-pooling
   * proxy between skein and Postgres drops LISTEN).
   */
  safetyPollMs?: number | undefined;
  /** a database that does not answer within this long is a ConfigError naming databaseUrl */
  connectTimeoutMs?: number | undefined;
  /** where log lines go; default: readable lines on stderr from the level SKEIN_LOG names (info) */
  logger?: Logger | undefined;
  /**
   * How long a step past its timeout, or the step of a workflow cancelled with `force`, may go
   * on before its thread is ended; default 2000.
   */
  stepKillGraceMs?: number | undefined;
  /** delete finished workflows (with their steps, messages and events) older than / beyond this */
  retention?: Retention | undefined;
  /**
   * The databases ctx.transaction writes to, by name; default `{ app: <the system database> }`.
   * `poolSize`: connections per worker thread (default 4), opened at a thread's first
   * transaction on that datasource.
   */
  datasources?: Record<string, DatasourceConfig> | undefined;
  /**
   * The clock workflow time is measured on (sleeps, timeouts, deadlines, delayed starts,
   * schedules); default the real one. A test clock comes from skein/testing.
   */
  clock?: Clock | undefined;
}

export interface DatasourceConfig {
  /** postgres:// URL of the database */
  url: string;
  /** connections per worker thread; default 4 */
  poolSize?: number | undefined;
}

export interface Retention {
  /** delete workflows that finished more than this long ago */
  completedAfterMs?: number | undefined;
  /** keep at most this many finished workflows, deleting the oldest */
  maxRows?: number | undefined;
}

export interface ResolvedConfig {
  workflowsUrl: string;
  databaseUrl: string | undefined;
  dataDir: string;
  schema: string;
  threads: number;
  workflowsPerThread: number;
  parkAfterMs: number;
  resourceLimits: ResourceLimits | undefined;
  queues: QueueConfig[];
  executorId: string;
  appVersion: string | undefined;
  recover: boolean;
  takeover: boolean;
  leaseMs: number;
  admin: AdminConfig | undefined;
  safetyPollMs: number;
  connectTimeoutMs: number;
  logger: Logger;
  stepKillGraceMs: number;
  retention: Retention | undefined;
  clock: Clock;
  /** by name; `url` undefined: the system database, known once it runs (embedded) */
  datasources: Record<string, { url: string | undefined; poolSize: number }>;
}

/** Default of a datasource's poolSize: connections per worker thread (README, Transactions). */
export const DEFAULT_DATASOURCE_POOL_SIZE = 4;

/** Default of SkeinConfig.stepKillGraceMs (README, Configuration). */
export const DEFAULT_STEP_KILL_GRACE_MS = 2000;

/**
 * The queue every Skein serves beside its declared ones: resumed and forked workflows go
 * through it (as in DBOS), so that any executor of the right version runs them, including
 * when a Client asked. Declared queues cannot take its name.
 */
export const INTERNAL_QUEUE = 'skein.internal';
/** Queue names starting with this are skein's own (INTERNAL_QUEUE): never declared or started on. */
export const RESERVED_QUEUE_PREFIX = 'skein.';

/**
 * Default of SkeinConfig.workflowsPerThread, by measurement (bench: `npm run bench`, and the
 * sweep in README "Tuning"): the largest value that keeps the main thread's event-loop delay p99
 * under 10 ms in every workload; waiting workflows hold no slot, so a slot is only ever code
 * running. Swept on 2026-12-04 after runs moved onto the threads' lines (the bench's skein
 * process, 2 passes each): workload 1 ran at 2,053-2,138/s at 32 (p99 5.5-7.1 ms), 2,504-2,741/s
 * at 64 (p99 8.7-9.2 ms) and 2,791-3,138/s at 128 (p99 12-13 ms, over the bound). 64 buys the
 * concurrent and CPU-heavy workloads about a fifth more (the CPU-heavy one's 100 workflows are
 * all admitted at once) at the cost of the loop's margin; bench/RESULTS.md is a full run at 64.
 */
export const DEFAULT_WORKFLOWS_PER_THREAD = 64;

/** Default of SkeinConfig.parkAfterMs; see README "Waiting and slots" for the measurement. */
export const DEFAULT_PARK_AFTER_MS = 1000;

/** Queue names are stored on rows and sent in NOTIFY payloads; each is declared once. */
function checkQueueNames(queues: QueueConfig[]): void {
  const names = new Set<string>();
  queues.forEach((q, i) => {
    if (q.name.startsWith(RESERVED_QUEUE_PREFIX)) {
      throw new ConfigError(`config.queues[${i}].name: '${q.name}': queue names starting with '${RESERVED_QUEUE_PREFIX}' are skein's own`);
    }
    if (names.has(q.name)) throw new ConfigError(`config.queues[${i}].name: queue '${q.name}' is declared twice`);
    names.add(q.name);
  });
}

/** SKEIN_EXECUTOR_ID, checked as the option would be. */
function executorIdFromEnv(): string | undefined {
  const id = process.env.SKEIN_EXECUTOR_ID;
  return id ? checkText('SKEIN_EXECUTOR_ID', id, MAX_ID_LENGTH) : undefined;
}

export function resolveConfig(given: SkeinConfig): ResolvedConfig {
  if (typeof given !== 'object' || given === null) {
    throw new ConfigError('Skein.launch needs a config object');
  }
  const config = checkOptions<SkeinConfig>('config', given, SKEIN_CONFIG);
  const { workflows } = config;
  const workflowsUrl =
    workflows instanceof URL
      ? workflows.href
      : /^file:/.test(workflows)
        ? workflows
        : pathToFileURL(resolve(workflows)).href;
  const queues = (config.queues ?? []).map((q) => ({ ...q }));
  checkQueueNames(queues);
  return {
    workflowsUrl: resolveWorkflowsUrl(workflowsUrl),
    databaseUrl: config.databaseUrl ?? (process.env.SKEIN_DATABASE_URL || process.env.DATABASE_URL || undefined),
    dataDir: resolve(config.dataDir ?? '.skein'),
    schema: validateSchemaName(config.schema ?? 'skein'),
    threads: config.threads ?? availableParallelism(),
    workflowsPerThread: config.workflowsPerThread ?? DEFAULT_WORKFLOWS_PER_THREAD,
    parkAfterMs: config.parkAfterMs ?? DEFAULT_PARK_AFTER_MS,
    resourceLimits: config.resourceLimits,
    queues,
    executorId: config.executorId ?? executorIdFromEnv() ?? defaultExecutorId(),
    appVersion: config.appVersion,
    recover: config.recover ?? true,
    admin: config.admin,
    takeover: config.takeover !== false,
    leaseMs: (typeof config.takeover === 'object' ? config.takeover.leaseMs : undefined) ?? DEFAULT_LEASE_MS,
    safetyPollMs: config.safetyPollMs ?? 10_000,
    connectTimeoutMs: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    logger: config.logger ? boundLogger(config.logger) : defaultLogger(),
    stepKillGraceMs: config.stepKillGraceMs ?? DEFAULT_STEP_KILL_GRACE_MS,
    retention: config.retention,
    clock: config.clock ?? REAL_CLOCK,
    datasources: Object.fromEntries(
      Object.entries<Partial<DatasourceConfig>>(config.datasources ?? { app: {} }).map(([name, d]) => [
        name,
        { url: d.url, poolSize: d.poolSize ?? DEFAULT_DATASOURCE_POOL_SIZE },
      ]),
    ),
  };
}
