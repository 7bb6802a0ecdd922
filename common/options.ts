// Every options object of the public API, checked in one place and one style: each key a
// caller may pass has a check that names it (`config.queues[0].concurrency must be ...`), a key
// nobody knows is a ConfigError listing the known ones, and a key the API documents but this
// version does not implement yet is refused by name, never accepted and ignored.
// Used on both sides: Skein, Client and the handles on the caller's thread, the workflow
// context on a worker. Checks that need Postgres knowledge (the schema as an identifier) are
// made by the caller on top.
import { isClock } from './clock.ts';
import { ConfigError } from './errors.ts';
import { LEVELS } from './logger.ts';
import { STATUSES, type Status } from './status.ts';
import { checkMs, checkStorable, checkText, MAX_ID_LENGTH, MAX_NAME_LENGTH, MAX_PRIORITY, MAX_TIMER_MS, shown } from './validate.ts';

/** Throws a ConfigError naming `at` when `value` is not acceptable. */
export type Check = (at: string, value: unknown) => void;

export interface OptionShape {
  /** the keys a caller may pass, each with its check (run only on defined values) */
  known: Record<string, Check>;
  /** documented keys this version does not implement yet: refused, with why */
  later?: Record<string, string>;
  /** keys that must be present */
  required?: string[];
}

function isOptionsObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Checks an options object against its shape and returns it typed. `undefined` is an empty
 * object unless a key is required.
 */
export function checkOptions<T>(at: string, value: unknown, shape: OptionShape): T {
  if (value === undefined && !shape.required?.length) return {} as T;
  if (!isOptionsObject(value)) throw new ConfigError(`${at} must be an object, got ${shown(value)}`);
  for (const key of Object.keys(value)) {
    if (key in shape.known) continue;
    const later = shape.later?.[key];
    if (later !== undefined) {
      if (value[key] === undefined) continue;
      throw new ConfigError(`${at}.${key} is not supported yet by this version of skein (${later})`);
    }
    throw new ConfigError(`unknown option ${at}.${key}; known: ${Object.keys(shape.known).join(', ')}`);
  }
  for (const key of shape.required ?? []) {
    if (value[key] === undefined) throw new ConfigError(`${at}.${key} is required`);
  }
  for (const [key, check] of Object.entries(shape.known)) {
    if (value[key] !== undefined) check(`${at}.${key}`, value[key]);
  }
  return value as T;
}

// ---- checks, composable ------------------------------------------------------------------

export const integer =
  (min: number, max: number): Check =>
  (at, v) => {
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
      throw new ConfigError(`${at} must be an integer from ${min} to ${max}, got ${shown(v)}`);
    }
  };
export const positive = integer(1, 2 ** 31 - 1);
export const count = integer(0, Number.MAX_SAFE_INTEGER);
export const ms: Check = (at, v) => void checkMs(at, v);
export const boolean: Check = (at, v) => {
  if (typeof v !== 'boolean') throw new ConfigError(`${at} must be true or false, got ${shown(v)}`);
};
export const id: Check = (at, v) => void checkText(at, v, MAX_ID_LENGTH);
export const name: Check = (at, v) => void checkText(at, v, MAX_NAME_LENGTH);
export const storable: Check = (at, v) => void checkStorable(at, v);
export const date: Check = (at, v) => {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new ConfigError(`${at} must be a valid Date, got ${shown(v)}`);
};
export const nonEmptyString: Check = (at, v) => {
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${at} must be a non-empty string, got ${shown(v)}`);
};
export const object =
  (shape: OptionShape): Check =>
  (at, v) =>
    void checkOptions(at, v, shape);
export const arrayOf =
  (check: Check): Check =>
  (at, v) => {
    if (!Array.isArray(v)) throw new ConfigError(`${at} must be an array, got ${shown(v)}`);
    v.forEach((item, i) => check(`${at}[${i}]`, item));
  };
/** One value or an array of them, each passing `check`. */
export const oneOrMany =
  (check: Check): Check =>
  (at, v) =>
    Array.isArray(v) ? arrayOf(check)(at, v) : check(at, v);
const priority = integer(1, MAX_PRIORITY);

// ---- the options objects -------------------------------------------------------------------

/** StepOptions (common/retry.ts holds the type and the defaults). */
export const STEP_OPTIONS: OptionShape = {
  known: {
    retries: integer(0, 10_000),
    baseDelayMs: ms,
    backoff: (at, v) => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > 1000) {
        throw new ConfigError(`${at} must be a number from 1 to 1000, got ${shown(v)}`);
      }
    },
    maxDelayMs: ms,
    timeoutMs: integer(1, MAX_TIMER_MS),
  },
};

/** The isolation levels ctx.transaction takes, as Postgres spells them after BEGIN ISOLATION LEVEL. */
export const ISOLATION_LEVELS = ['read committed', 'repeatable read', 'serializable'] as const;

/** ctx.transaction options (common/workflow.ts, TransactionOptions). */
export const TRANSACTION_OPTIONS: OptionShape = {
  known: {
    isolation: (at, v) => {
      if (!(ISOLATION_LEVELS as readonly unknown[]).includes(v)) {
        throw new ConfigError(`${at} must be one of ${ISOLATION_LEVELS.map((l) => `'${l}'`).join(', ')}, got ${shown(v)}`);
      }
    },
    readOnly: boolean,
    datasource: nonEmptyString,
  },
};

/** recv, getEvent and result: how long to wait. */
export const WAIT_OPTIONS: OptionShape = { known: { timeoutMs: ms } };

/** Skein.send and Client.send. */
export const SEND_OPTIONS: OptionShape = { known: { idempotencyKey: id } };

/** Skein.shutdown. */
export const SHUTDOWN_OPTIONS: OptionShape = { known: { timeoutMs: ms } };

/** A delay the database keeps, not a Node timer: up to a century. */
export const MAX_DELAY_MS = 100 * 365.25 * 24 * 3600 * 1000;

/** When a workflow may start, and the partition of its queue it counts in. */
/** A start time Postgres can hold and the timers can reach: from 1970 to a century ahead. */
const startAt: Check = (at, v) => {
  date(at, v);
  const ms = (v as Date).getTime();
  if (ms < 0 || ms > Date.now() + MAX_DELAY_MS) {
    throw new ConfigError(`${at} must be a Date from 1970 to a century from now, got ${(v as Date).toISOString()}`);
  }
};

const LATER_START = { delayMs: integer(0, MAX_DELAY_MS), startAt, partitionKey: id };

/** StartOptions of Skein.start/run. */
export const START_OPTIONS: OptionShape = {
  known: { id, queue: name, priority, dedupId: id, appVersion: id, user: id, timeoutMs: integer(1, MAX_TIMER_MS), ...LATER_START },
};

/** Client.enqueue: StartOptions plus the workflow's name; a queue is required. */
export const ENQUEUE_OPTIONS: OptionShape = {
  known: { workflow: name, ...START_OPTIONS.known },
  required: ['workflow', 'queue'],
};

/** ctx.startWorkflow: what applies to a child. */
export const CHILD_OPTIONS: OptionShape = {
  known: { id, queue: name, priority, dedupId: id, timeoutMs: integer(1, MAX_TIMER_MS), ...LATER_START },
  later: {
    appVersion: 'a child runs under its parent\'s version',
    user: 'a child inherits nothing yet; set user on the parent',
  },
};

/** A workflow made by workflow() (checked by its name), or a workflow's name. */
const workflowRef: Check = (at, v) => {
  const n = typeof v === 'object' && v !== null && 'name' in v ? (v as { name: unknown }).name : v;
  name(at, n);
};

/** createSchedule (runtime/schedules.ts); the cron and time zone are checked by parseCron. */
export const SCHEDULE_OPTIONS: OptionShape = {
  known: { id, workflow: workflowRef, cron: nonEmptyString, input: () => {}, timezone: nonEmptyString, queue: name },
  required: ['id', 'workflow', 'cron'],
};

/** Skein.debounce. */
export const DEBOUNCE_OPTIONS: OptionShape = {
  known: { key: id, delayMs: integer(1, MAX_DELAY_MS), maxWaitMs: integer(1, MAX_DELAY_MS), queue: name },
  required: ['key', 'delayMs'],
};

/** workflow(name, fn, options); the schedule is checked at launch (runtime/skein.ts). */
export const WORKFLOW_OPTIONS: OptionShape = {
  known: { maxRecoveryAttempts: positive, schedule: nonEmptyString, timezone: nonEmptyString, queue: name },
};

export const RATE_LIMIT: OptionShape = { known: { limit: positive, periodMs: positive }, required: ['limit', 'periodMs'] };

/** One entry of SkeinConfig.queues. */
export const QUEUE_CONFIG: OptionShape = {
  known: {
    name,
    workerConcurrency: positive,
    concurrency: positive,
    rateLimit: object(RATE_LIMIT),
    priority: boolean,
    maxPerPoll: positive,
    partitionConcurrency: positive,
  },
  required: ['name'],
};

/** Megabytes, as worker_threads takes them: fractions allowed. */
const megabytes: Check = (at, v) => {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(`${at} must be a positive number of megabytes, got ${shown(v)}`);
};

const RESOURCE_LIMITS: OptionShape = {
  known: {
    maxOldGenerationSizeMb: megabytes,
    maxYoungGenerationSizeMb: megabytes,
    codeRangeSizeMb: megabytes,
    stackSizeMb: megabytes,
  },
};

const logger: Check = (at, v) => {
  const missing = LEVELS.filter((l) => typeof (v as Record<string, unknown> | null)?.[l] !== 'function');
  if (typeof v !== 'object' || v === null || missing.length) {
    throw new ConfigError(
      `${at} must have debug, info, warn and error methods (a pino or console logger fits); missing: ${missing.join(', ')}`,
    );
  }
};
export { logger as checkLogger };

const workflowsModule: Check = (at, v) => {
  if (!(v instanceof URL) && (typeof v !== 'string' || v.length === 0)) {
    throw new ConfigError(`${at} must be the path or URL of the workflows module, got ${shown(v)}`);
  }
};

const connectTimeoutMs = integer(1, MAX_TIMER_MS);
/** SkeinConfig.connectTimeoutMs and ClientConfig's, when not given. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Connection strings and paths: stored nowhere, but a NUL would reach a socket or a file name. */
const longText: Check = (at, v) => void checkText(at, v, 4096);

/** SkeinConfig.retention and garbageCollect(): which finished workflows to delete. */
export const RETENTION: OptionShape = {
  known: { completedAfterMs: integer(0, Number.MAX_SAFE_INTEGER), maxRows: count },
};

/** cancelWorkflow. */
export const CANCEL_OPTIONS: OptionShape = { known: { force: boolean } };

/** forkWorkflow. */
export const FORK_OPTIONS: OptionShape = {
  known: { startStep: integer(0, 2 ** 31 - 1), newId: id, appVersion: id, queue: name },
};

/** deleteWorkflow. */
export const DELETE_OPTIONS: OptionShape = { known: { children: boolean } };

export { priority as checkPriority };

/** One entry of SkeinConfig.datasources. */
export const DATASOURCE_CONFIG: OptionShape = {
  known: { url: (at, v) => { nonEmptyString(at, v); longText(at, v); }, poolSize: integer(1, 1000) },
  required: ['url'],
};

/** SkeinConfig.datasources: names to databases. */
const datasources: Check = (at, v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${at} must be an object of named datasources, got ${shown(v)}`);
  const names = Object.keys(v);
  if (names.length === 0) throw new ConfigError(`${at} is empty: omit it for the default ({ app: the system database })`);
  for (const name of names) {
    checkText(`${at} name`, name, MAX_NAME_LENGTH);
    checkOptions(`${at}.${name}`, (v as Record<string, unknown>)[name], DATASOURCE_CONFIG);
  }
};

/** SkeinConfig.takeover as an object: how long a process may go without a heartbeat. */
const TAKEOVER: OptionShape = { known: { leaseMs: integer(2000, MAX_TIMER_MS) } };

const ADMIN: OptionShape = {
  known: { port: integer(0, 65_535), host: nonEmptyString, token: nonEmptyString },
  required: ['port'],
};
/** Hosts only this machine reaches: the admin server needs no token there. */
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** SkeinConfig (runtime/config.ts resolves the defaults). */
export const SKEIN_CONFIG: OptionShape = {
  known: {
    workflows: workflowsModule,
    databaseUrl: longText,
    dataDir: longText,
    schema: nonEmptyString,
    threads: integer(1, 1024),
    workflowsPerThread: integer(1, 10_000),
    parkAfterMs: integer(0, MAX_TIMER_MS),
    resourceLimits: object(RESOURCE_LIMITS),
    queues: arrayOf(object(QUEUE_CONFIG)),
    executorId: id,
    appVersion: id,
    recover: boolean,
    safetyPollMs: integer(1, MAX_TIMER_MS),
    connectTimeoutMs,
    logger,
    stepKillGraceMs: integer(0, MAX_TIMER_MS),
    retention: object(RETENTION),
    datasources,
    admin: (at, v) => {
      const a = checkOptions<{ host?: string; token?: string }>(at, v, ADMIN);
      if (a.host !== undefined && !LOOPBACK.has(a.host) && a.token === undefined) {
        throw new ConfigError(`${at}.token is required to listen on ${shown(a.host)}: only 127.0.0.1, ::1 and localhost go without one`);
      }
    },
    clock: (at, v) => {
      if (!isClock(v)) throw new ConfigError(`${at} must be a clock from skein/testing (clock()), got ${shown(v)}`);
    },
    takeover: (at, v) => {
      if (typeof v === 'boolean') return;
      if (!isOptionsObject(v)) throw new ConfigError(`${at} must be true, false or { leaseMs }, got ${shown(v)}`);
      checkOptions(at, v, TAKEOVER);
    },
  },
  required: ['workflows'],
};

/** ClientConfig. */
export const CLIENT_CONFIG: OptionShape = {
  known: { databaseUrl: longText, schema: nonEmptyString, connectTimeoutMs, logger },
};

/** listWorkflows: every field narrows the list; an unknown key is a ConfigError. */
export interface ListFilter {
  ids?: string[] | undefined;
  idPrefix?: string | undefined;
  name?: string | string[] | undefined;
  status?: Status | Status[] | undefined;
  queue?: string | undefined;
  /** only workflows that went through a queue */
  queuesOnly?: boolean | undefined;
  user?: string | undefined;
  appVersion?: string | undefined;
  executorId?: string | undefined;
  parentId?: string | undefined;
  forkedFrom?: string | undefined;
  /** runs of this schedule: a dynamic schedule's ID, or a scheduled workflow's name */
  scheduleId?: string | undefined;
  /** created at or after */
  since?: Date | undefined;
  /** created at or before */
  until?: Date | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
  /** newest first; default oldest first */
  desc?: boolean | undefined;
  /** default true */
  loadInput?: boolean | undefined;
  /** default true (output and error) */
  loadOutput?: boolean | undefined;
}

/** ListFilter of listWorkflows. */
export const LIST_FILTER: OptionShape = {
  known: {
    ids: arrayOf(storable),
    idPrefix: storable,
    name: oneOrMany(storable),
    status: (at, v) => {
      for (const s of [v].flat()) {
        if (!STATUSES.includes(s as Status)) {
          throw new ConfigError(`${at}: unknown status ${shown(s)}; one of ${STATUSES.join(', ')}`);
        }
      }
    },
    queue: storable,
    queuesOnly: boolean,
    user: storable,
    appVersion: storable,
    executorId: storable,
    parentId: storable,
    forkedFrom: storable,
    scheduleId: storable,
    since: date,
    until: date,
    limit: count,
    offset: count,
    desc: boolean,
    loadInput: boolean,
    loadOutput: boolean,
  },
};
