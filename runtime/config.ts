// Launch configuration (SkeinConfig; README, Configuration): validated once, with messages naming the option.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { DEFAULT_CONNECT_TIMEOUT_MS } from '../storage/connect.ts';
import { validateSchemaName } from '../storage/identifiers.ts';
import { ConfigError } from '../common/errors.ts';
import { resolveWorkflowsUrl } from '../common/loader.ts';
import { checkStorable, checkText, MAX_NAME_LENGTH } from '../common/validate.ts';
import { validateLogger, type Logger } from '../common/logger.ts';
import { validateQueues } from './queues.ts';

export interface QueueConfig {
  name: string;
  workerConcurrency?: number;
  concurrency?: number;
  rateLimit?: { limit: number; periodMs: number };
  priority?: boolean;
  maxPerPoll?: number;
}

export interface SkeinConfig {
  /** path or URL of the workflows module every worker thread imports */
  workflows: string | URL;
  /** default: SKEIN_DATABASE_URL, then DATABASE_URL, else an embedded Postgres in dataDir */
  databaseUrl?: string;
  /** where the embedded Postgres keeps its data; default `.skein/` in the working directory */
  dataDir?: string;
  schema?: string;
  threads?: number;
  workflowsPerThread?: number;
  /**
   * A wait (recv, getEvent, a child's result) still unanswered after this long leaves its
   * thread and replays on wake; a sleep longer than this leaves at once. 0: every wait parks.
   */
  parkAfterMs?: number;
  resourceLimits?: ResourceLimits;
  queues?: QueueConfig[];
  executorId?: string;
  appVersion?: string;
  recover?: boolean;
  /**
   * How often waits (recv, getEvent, result) re-check the database in case a NOTIFY was
   * missed; default 10 s. Lower it where notifications are unreliable (a transaction-pooling
   * proxy between skein and Postgres drops LISTEN).
   */
  safetyPollMs?: number;
  /** a database that does not answer within this long is a ConfigError naming databaseUrl */
  connectTimeoutMs?: number;
  /** where log lines go; default: readable lines on stderr from the level SKEIN_LOG names (info) */
  logger?: Logger;
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
  safetyPollMs: number;
  connectTimeoutMs: number;
  logger: Logger;
}

function positiveInt(name: string, value: unknown, fallback: number, max = 1024, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw new ConfigError(`config.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value as number;
}

/** SkeinConfig.connectTimeoutMs, and ClientConfig's: 1 ms up to the longest a timer waits. */
export function connectTimeout(value: unknown): number {
  return positiveInt('connectTimeoutMs', value, DEFAULT_CONNECT_TIMEOUT_MS, 2 ** 31 - 1);
}

/** Default of SkeinConfig.parkAfterMs; see README "Waiting and slots" for the measurement. */
export const DEFAULT_PARK_AFTER_MS = 1000;

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 1000) {
    throw new ConfigError(`config.${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  // executorId and appVersion are stored on every row; the others reach a connection or a path
  return checkStorable(`config.${name}`, value);
}

/** Queue names are stored on rows and sent in NOTIFY payloads: text Postgres stores as given. */
function validQueues(queues: unknown): QueueConfig[] {
  const valid = validateQueues(queues);
  valid.forEach((q, i) => checkText(`config.queues[${i}].name`, q.name, MAX_NAME_LENGTH));
  return valid;
}

export function resolveConfig(config: SkeinConfig): ResolvedConfig {
  if (typeof config !== 'object' || config === null) {
    throw new ConfigError('Skein.launch needs a config object');
  }
  const { workflows } = config;
  let workflowsUrl: string;
  if (workflows instanceof URL) workflowsUrl = workflows.href;
  else if (typeof workflows === 'string' && workflows.length > 0) {
    workflowsUrl = /^file:/.test(workflows) ? workflows : pathToFileURL(resolve(workflows)).href;
  } else {
    throw new ConfigError('config.workflows must be the path or URL of the workflows module');
  }
  return {
    workflowsUrl: resolveWorkflowsUrl(workflowsUrl),
    databaseUrl:
      optionalString('databaseUrl', config.databaseUrl) ??
      (process.env.SKEIN_DATABASE_URL || process.env.DATABASE_URL || undefined),
    dataDir: resolve(optionalString('dataDir', config.dataDir) ?? '.skein'),
    schema: validateSchemaName(config.schema ?? 'skein'),
    threads: positiveInt('threads', config.threads, availableParallelism()),
    workflowsPerThread: positiveInt('workflowsPerThread', config.workflowsPerThread, 8, 10_000),
    parkAfterMs: positiveInt('parkAfterMs', config.parkAfterMs, DEFAULT_PARK_AFTER_MS, 2 ** 31 - 1, 0),
    resourceLimits: config.resourceLimits,
    queues: validQueues(config.queues),
    executorId:
      optionalString('executorId', config.executorId) ?? (process.env.SKEIN_EXECUTOR_ID || 'local'),
    appVersion: optionalString('appVersion', config.appVersion),
    recover: config.recover ?? true,
    safetyPollMs: positiveInt('safetyPollMs', config.safetyPollMs, 10_000, 2 ** 31 - 1),
    connectTimeoutMs: connectTimeout(config.connectTimeoutMs),
    logger: validateLogger(config.logger),
  };
}
