// Skein: the public runtime object. Lives on the main thread, where it coordinates: it writes
// and reads status rows, hands executions to the dispatcher, answers workflows' requests and
// handles. It never runs workflow code.
import { randomUUID } from 'node:crypto';
import { computeAppVersion } from '../recovery/app-version.ts';
import { prepareExecution, recordedSteps, recoverPending, type RecoveryDeps } from '../recovery/recover.ts';
import { checkDatabase, redactUrl } from '../storage/connect.ts';
import { createPool, type Pool } from '../storage/database.ts';
import { isServerGoodbye, isTransient } from '../storage/pg-errors.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../storage/embedded.ts';
import { notify, notifyChannel, notifyOp, parseCancel, wakeKey } from '../storage/messages.ts';
import { cancelledAmong } from '../storage/cancel.ts';
import { deadLetter, getWorkflow } from '../storage/workflows.ts';
import { refuseChildStart } from '../storage/steps.ts';
import { migrate } from '../storage/migrate.ts';
import { prepareDatasource } from '../storage/datasources.ts';
import type { ClaimedRow } from '../storage/queues.ts';
import type { NewWorkflow, WriteOp } from '../storage/write-ops.ts';
import { GroupCommitWriter, type WriterStats } from '../storage/writer.ts';
import { encodeError, encodeValue } from '../common/codec.ts';
import type { DatasourceSpec, StartChildMessage } from '../common/protocol.ts';
import { ConfigError, DuplicateWorkflowError, UnknownWorkflowError, type CancelReason } from '../common/errors.ts';
import { loadWorkflows, ModuleLoadError, modulePath } from '../common/loader.ts';
import { checkStorable, checkText, MAX_ID_LENGTH } from '../common/validate.ts';
import { isWorkflow, type ScannedModule, type Workflow } from '../common/workflow.ts';
import { CommonApi, type CreatedWorkflow } from './common-api.ts';
import { INTERNAL_QUEUE, RESERVED_QUEUE_PREFIX, resolveConfig, type ResolvedConfig, type Retention, type SkeinConfig } from './config.ts';
import { Dispatcher, type Completion, type Execution, type WorkflowRef } from './dispatcher.ts';
import { Handle, type WorkflowHandle } from './handle.ts';
import { errorField, withFields, type Logger } from '../common/logger.ts';
import { isDelayed, newWorkflowOps, writeNewWorkflow, type NewWorkflowTarget } from './new-workflow.ts';
import { checkOptions, SHUTDOWN_OPTIONS } from '../common/options.ts';
import { validateStartOptions, type StartOptions } from './options.ts';
import { QueueRunner } from './queues.ts';
import { serveRequest, waitSpec, type WakeCondition } from './requests.ts';
import { Waiters, type WaiterStats } from './waiters.ts';
import { Timers } from './timers.ts';
import { RetentionSweeper } from './retention.ts';
import { YoungTables } from './young-tables.ts';
import { staticSchedules } from './static-schedules.ts';
import { checkDebounceOptions, debounce, type DebounceOptions } from './debounce.ts';
import { TimeService, type StaticSchedule, type TickStart } from './time.ts';
import { ExecutorRegistry } from './registry.ts';
import { hostname } from 'node:os';
import { AdminServer } from './admin.ts';
import { DashboardApi } from './dashboard/api.ts';
import { Counters, QUEUE_GAUGES_MS, Recent, toPrometheus, type SkeinMetrics } from './metrics.ts';
import { Observer } from './observer.ts';
import { Tracing } from './tracing.ts';
import { queueSummaries } from '../storage/queue-summary.ts';
import { grantTestAccess } from './test-access.ts';

interface Parts {
  config: ResolvedConfig;
  module: ScannedModule;
  /** the workflows' `schedule` options, checked */
  statics: StaticSchedule[];
  appVersion: string;
  databaseUrl: string;
  pool: Pool;
  /** claims of queued work (commits without waiting for the flush: see storage/queues.ts) */
  claimPool: Pool;
  waiters: Waiters;
  embedded: EmbeddedPostgres | null;
  /** ctx.transaction's databases, prepared */
  datasources: Record<string, DatasourceSpec>;
  /** this process's registration, its lock held */
  registry: ExecutorRegistry;
  /** spans, when @opentelemetry/api is installed */
  tracing: Tracing | null;
}

/** An idle connection's error: a server saying goodbye is routine (debug), anything else is not. */
function idleConnectionError(logger: Logger): (err: Error) => void {
  return (err) =>
    (isServerGoodbye(err) ? logger.debug : logger.warn)('skein: an idle database connection failed', { error: errorField(err) });
}

/** After this long without a thread that loaded the workflows module, launch says it waits. */
const SLOW_LOAD_MS = 15_000;

/** Recovered workflows registered per event-loop turn. */
const RECOVERY_CHUNK = 1000;

/** `fn` over `items`, RECOVERY_CHUNK per turn: a backlog of 100,000 never holds the main thread long. */
async function inChunks<T>(items: T[], fn: (item: T) => unknown): Promise<void> {
  for (let i = 0; i < items.length; i += RECOVERY_CHUNK) {
    for (const item of items.slice(i, i + RECOVERY_CHUNK)) fn(item);
    await new Promise((r) => setImmediate(r));
  }
}

export class Skein extends CommonApi {
  readonly executorId: string;
  readonly appVersion: string;
  /** the connection string, password included; not an own property (see databaseUrl) */
  readonly #databaseUrl: string;
  readonly #config: ResolvedConfig;
  readonly #module: ScannedModule;
  readonly #embedded: EmbeddedPostgres | null;
  readonly #writer: GroupCommitWriter;
  /**
   * New workflows' rows (start, enqueue) commit apart from checkpoints, so an awaited start()
   * never queues behind a flush of other workflows' steps. Measured (bench, 2,000 starts
   * awaited in turn while they run): 553 starts/s sharing the writer; A/B over 4 passes of
   * 500: median 382 shared vs 690 apart, and queued throughput 979 vs 1,425/s.
   * Safe to split: a workflow's first checkpoint is sent only after its start committed.
   */
  readonly #startWriter: GroupCommitWriter;
  readonly #waiters: Waiters;
  readonly #dispatcher: Dispatcher;
  readonly #recovery: RecoveryDeps;
  readonly #queues = new Map<string, QueueRunner>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #claimPool: Pool;
  readonly #logger: Logger;
  readonly #sweeper: RetentionSweeper;
  /** planner statistics for the busiest tables until autovacuum keeps them */
  readonly #youngTables: YoungTables;
  readonly #time: TimeService;
  /** the longest rate-limit period of this process's queues: retention keeps their recent starts */
  readonly #rateWindowMs: number;
  readonly #registry: ExecutorRegistry;
  readonly #counters = new Counters();
  /** one query at a time, reused for a second: a scraper storm does not hold the pool */
  readonly #queueGauges = new Recent(QUEUE_GAUGES_MS, () => queueSummaries(this.parts.pool, this.#config.schema));
  readonly #observer: Observer;
  #admin: AdminServer | null = null;
  #closed: Promise<void> | null = null;

  private constructor(p: Parts, writer: GroupCommitWriter) {
    const logger = p.config.logger;
    const clock = p.config.clock;
    super({ pool: p.pool, schema: p.config.schema, writer, waiters: p.waiters, errorClasses: p.module.errorClasses, shiftMs: () => clock.shiftMs });
    this.#config = p.config;
    this.#module = p.module;
    this.#embedded = p.embedded;
    this.#claimPool = p.claimPool;
    this.#logger = logger;
    this.#rateWindowMs = Math.max(0, ...p.config.queues.map((q) => q.rateLimit?.periodMs ?? 0));
    this.#sweeper = new RetentionSweeper({
      pool: p.pool, schema: p.config.schema, retention: p.config.retention ?? {}, logger, rateWindowMs: this.#rateWindowMs,
    });
    this.#youngTables = new YoungTables({ pool: p.pool, schema: p.config.schema, logger });
    this.#writer = writer;
    this.#startWriter = new GroupCommitWriter(p.pool, p.config.schema, logger);
    this.#observer = new Observer(this.#counters, p.tracing);
    const batchSize = this.#counters.batchSize;
    writer.onFlush = this.#startWriter.onFlush = (units) => batchSize.observe(units);
    const wakeUpLatency = this.#counters.wakeUpLatency;
    p.waiters.timers.onFired = (lateMs) => wakeUpLatency.observe(lateMs);
    this.#waiters = p.waiters;
    this.#registry = p.registry;
    this.executorId = p.config.executorId;
    this.appVersion = p.appVersion;
    this.#databaseUrl = p.databaseUrl;
    this.#recovery = {
      pool: p.pool,
      schema: p.config.schema,
      executorId: this.executorId,
      appVersion: this.appVersion,
      workflows: p.module.workflows,
      logger,
      deadLettered: () => this.#observer.deadLettered(),
    };
    const requestDeps = {
      pool: p.pool,
      schema: p.config.schema,
      writer,
      startChild: (parentId: string, req: StartChildMessage) => this.#startChild(parentId, req),
      now: p.config.clock.now,
    };
    this.#dispatcher = new Dispatcher({
      workflowsModule: p.config.workflowsUrl,
      datasources: { sources: p.datasources, schema: p.config.schema, connectTimeoutMs: p.config.connectTimeoutMs },
      clock: p.config.clock.shared,
      threads: p.config.threads,
      workflowsPerThread: p.config.workflowsPerThread,
      parkAfterMs: p.config.parkAfterMs,
      resourceLimits: p.config.resourceLimits,
      pool: p.pool,
      schema: p.config.schema,
      waiters: p.waiters,
      serve: (workflowId, req) => serveRequest(requestDeps, workflowId, req),
      waitSpec: (workflowId, req) => waitSpec(requestDeps, workflowId, req),
      prepare: (wf, how, closing) => prepareExecution(this.#recovery, wf, how, closing),
      recordWait: (id, w) => this.#recordWait(id, w),
      finish: (wf, completion) => this.#finish(wf, completion),
      slotsFreed: () => {
        for (const runner of this.#queues.values()) runner.slotsFreed();
      },
      deadlinePassed: (id) => {
        // a deadline passed inside a step ends the thread after the grace, as a force cancel
        this.cancelTree(id, 'deadline', true).catch((err) =>
          logger.error('skein: a workflow past its deadline could not be cancelled', { workflowId: id, error: errorField(err) }),
        );
      },
      stepKillGraceMs: p.config.stepKillGraceMs,
      observer: this.#observer,
      onError: (err) => logger.error('skein: worker pool error', { error: errorField(err) }),
      logger,
    });
    // the internal queue (resumed and forked workflows) is served by every Skein, beside its own
    const names = [...p.module.workflows.keys()];
    for (const q of [{ name: INTERNAL_QUEUE }, ...p.config.queues]) {
      const runner = new QueueRunner(q, {
        pool: p.claimPool,
        schema: p.config.schema,
        executorId: this.executorId,
        appVersion: this.appVersion,
        names,
        freeSlots: () => this.#dispatcher.freeSlots(),
        dispatch: (row, queue) => this.#dispatchClaimed(row, queue),
        logger,
        shiftMs: () => p.config.clock.shiftMs,
      });
      this.#queues.set(q.name, runner);
      this.#unsubscribe.push(p.waiters.subscribe(wakeKey.queue(q.name), () => runner.wake()));
    }
    this.#time = new TimeService({
      pool: p.pool,
      schema: p.config.schema,
      waiters: p.waiters,
      logger,
      names,
      statics: p.statics,
      clock: p.config.clock,
      startTicks: (ticks) => this.#startTicks(ticks),
    });
    this.#unsubscribe.push(
      p.config.clock.join({
        // a test clock moved on: what came due fires now, not when the real time gets there
        advanced: () => p.waiters.timers.rearm(),
        busy: () => this.#dispatcher.busy(),
        nextDue: () => p.waiters.timers.nextAt(),
      }),
    );
    grantTestAccess(this, {
      watch: (id, probe) => this.#dispatcher.watch(id, probe),
      replay: async (id) => {
        const row = await getWorkflow(p.pool, p.config.schema, id);
        if (!row) return null;
        const steps = await recordedSteps(p.pool, p.config.schema, id);
        const result = await this.#dispatcher.replay({ id, name: row.name, input: row.input!, attempt: row.attempts, steps });
        return { row, steps, result };
      },
      knows: (name) => p.module.workflows.has(name),
      setup: () => ({
        workflowsUrl: p.config.workflowsUrl, databaseUrl: p.databaseUrl, schema: p.config.schema, appVersion: p.appVersion,
        queues: p.config.queues, datasources: p.config.datasources,
        testClock: p.config.clock.shared !== null, shiftMs: p.config.clock.shiftMs,
      }),
      clock: p.config.clock,
    });
    // cancels made by other processes (a Client, another executor's cascade or deadline)
    this.#unsubscribe.push(
      p.waiters.listen({
        notified: (key) => {
          const c = parseCancel(key);
          if (c) this.#dispatcher.cancel(c.id, c.reason, c.force);
        },
        resync: () => void this.#recheckCancels(),
      }),
    );
  }

  /**
   * The database's connection string, password included (the embedded server's is generated),
   * for Client.connect or psql. A getter, as node-postgres keeps its password non-enumerable:
   * logging or JSON-dumping a Skein never prints it.
   */
  get databaseUrl(): string {
    return this.#databaseUrl;
  }

  /** Migrates, recovers this executor's pending workflows, and starts the worker threads. */
  static async launch(config: SkeinConfig): Promise<Skein> {
    const given = resolveConfig(config);
    // every line of this Skein names its executor
    const resolved = { ...given, logger: withFields(given.logger, { executorId: given.executorId }) };
    const logger = resolved.logger;
    const module = await loadWorkflows(resolved.workflowsUrl).catch((err) => {
      throw err instanceof ModuleLoadError ? new ConfigError(err.message, { cause: err.cause }) : err;
    });
    if (module.workflows.size === 0) {
      throw new ConfigError(`${modulePath(resolved.workflowsUrl)} exports no workflows`);
    }
    const statics = staticSchedules(module, resolved.queues);
    const embedded = resolved.databaseUrl ? null : await startEmbeddedPostgres(resolved.dataDir, { logger });
    const databaseUrl = resolved.databaseUrl ?? embedded!.url;
    const connectTimeoutMs = resolved.connectTimeoutMs;
    // a URL is tried once first, so a wrong one is a ConfigError that says what to fix
    if (!embedded) {
      await checkDatabase(databaseUrl, { given: config.databaseUrl, timeoutMs: connectTimeoutMs, embeddedFallback: true });
    }
    const pool = createPool(databaseUrl, 10, idleConnectionError(resolved.logger), { connectTimeoutMs });
    const appVersion = resolved.appVersion ?? computeAppVersion(module.workflows.values());
    let waiters: Waiters | undefined;
    let registry: ExecutorRegistry | undefined;
    // the takeover of dead executors runs on the Skein, made once the rest is ready
    let taker: Skein | undefined;
    const datasources: Record<string, DatasourceSpec> = {};
    try {
      await migrate(pool, resolved.schema);
      // before anything else is done as this executor: an ID a live process holds is refused
      registry = await ExecutorRegistry.register({
        url: databaseUrl,
        pool,
        schema: resolved.schema,
        me: { executorId: resolved.executorId, appVersion, host: hostname(), pid: process.pid, leaseMs: resolved.leaseMs },
        connectTimeoutMs,
        takeover: resolved.takeover,
        takeOver: async (dead) => {
          if (!taker) throw new Error('takeover before launch ended'); // the watch starts after it
          await taker.recoverPendingWorkflows([dead]);
        },
        logger,
      });
      // each gets its transaction_outputs table (the system database has it from migrate()), and
      // launch learns what its server can do
      for (const [name, d] of Object.entries(resolved.datasources)) {
        const url = d.url ?? databaseUrl;
        const { connectionCheck } = await prepareDatasource(name, url, resolved.schema, connectTimeoutMs);
        datasources[name] = { url, poolSize: d.poolSize, connectionCheck };
      }
      waiters = await Waiters.connect(databaseUrl, notifyChannel(resolved.schema), {
        pollMs: resolved.safetyPollMs,
        connectTimeoutMs,
        logger,
        timers: new Timers(resolved.clock.now),
      });
    } catch (err) {
      await registry?.close();
      await pool.end();
      await embedded?.stop();
      throw err;
    }
    // every Skein serves the internal queue, so every Skein claims
    const claimPool = createPool(databaseUrl, 2, idleConnectionError(resolved.logger), { synchronousCommit: false, connectTimeoutMs });
    const tracing = await Tracing.load(resolved.executorId);
    const parts = { config: resolved, module, statics, appVersion, databaseUrl, pool, claimPool, waiters, embedded, datasources, registry, tracing };
    const skein = new Skein(parts, new GroupCommitWriter(pool, resolved.schema, logger));
    const path = modulePath(resolved.workflowsUrl);
    // a module whose import never ends on a thread would hold launch in silence
    const slow = setTimeout(() => logger.warn('skein: still waiting for a worker thread to load the workflows module', { module: path }), SLOW_LOAD_MS);
    try {
      // first: a port in use fails the launch before any workflow runs
      if (resolved.admin) {
        const metrics = () => skein.metrics();
        const api = new DashboardApi({ api: skein, pool, schema: resolved.schema, metrics, queues: resolved.queues });
        skein.#admin = await AdminServer.start(resolved.admin, { metrics: async () => toPrometheus(await metrics()), api }, logger);
      }
      // Before anything runs: a module that loads here but not on a worker thread (a path that
      // resolves differently there, code that throws off the main thread) would otherwise
      // leave every workflow waiting for a thread that can run it.
      await skein.#dispatcher.loaded().catch((err: Error) => {
        throw new ConfigError(
          `the workflows module ${path} could not be loaded on a worker thread (it loaded on the main thread): ${err.message}`,
          { cause: err },
        );
      });
      if (resolved.recover) await skein.recoverPendingWorkflows();
    } catch (err) {
      // nothing of a failed launch may outlive it: threads, pools, the listener, the server
      await skein.shutdown({ timeoutMs: 0 }).catch((e) => logger.error('skein: closing after a failed launch failed', { error: errorField(e) }));
      throw err;
    } finally {
      clearTimeout(slow);
    }
    for (const runner of skein.#queues.values()) runner.wake();
    skein.#time.start();
    skein.#sweeper.start();
    skein.#youngTables.start();
    taker = skein;
    registry.start((wake) => skein.#unsubscribe.push(waiters.subscribe(wakeKey.executors, wake)));
    logger.info('skein: launched', {
      appVersion,
      threads: resolved.threads,
      workflowsPerThread: resolved.workflowsPerThread,
      queues: resolved.queues.map((q) => q.name),
      database: embedded ? `embedded, in ${embedded.dataDir}` : redactUrl(databaseUrl),
    });
    return skein;
  }

  /**
   * Durably starts a workflow, or enqueues it with `opts.queue`; resolves once it is recorded.
   * Starting an existing ID returns a handle to that workflow and runs nothing again.
   */
  async start<I, O>(wf: Workflow<I, O>, input: I, opts: StartOptions = {}): Promise<WorkflowHandle<O>> {
    this.assertOpen();
    const def = this.#registered(wf);
    const o = this.#checkQueue(validateStartOptions(opts), 'options');
    const bytes = encodeValue(input, `input of workflow '${def.name}'`);
    const row = this.#newRow(def.name, bytes, o, null);
    const ops = newWorkflowOps(this.#config.schema, row);
    const { inserted, conflict } = await writeNewWorkflow(this.#newWorkflowTarget(this.#startWriter), row, ops);
    if (conflict) throw conflict;
    if (inserted) this.#runIfOurs(row);
    return new Handle<O>(row.id, this);
  }

  async run<I, O>(wf: Workflow<I, O>, input: I, opts?: StartOptions): Promise<O> {
    return (await this.start(wf, input, opts)).result();
  }

  /**
   * Calls with the same workflow and `key` within `delayMs` of the last one start one workflow,
   * with the last call's input, `delayMs` after the last call (never later than `maxWaitMs`
   * after the first); every call of one burst returns a handle to the same workflow. Across
   * all processes on the database.
   */
  async debounce<I, O>(wf: Workflow<I, O>, input: I, opts: DebounceOptions): Promise<WorkflowHandle<O>> {
    this.assertOpen();
    const def = this.#registered(wf);
    const configs = new Map([...this.#queues].map(([name, runner]) => [name, runner.config]));
    const o = checkDebounceOptions(opts, configs);
    const bytes = encodeValue(input, `input of workflow '${def.name}'`);
    const deps = {
      pool: this.parts.pool, schema: this.#config.schema, executorId: this.executorId, appVersion: this.appVersion, queues: configs,
      shiftMs: this.#config.clock.shiftMs,
    };
    const { id, opened } = await debounce(deps, def.name, bytes, o);
    if (opened) this.#observer.created({ id, parentId: null });
    return new Handle<O>(id, this);
  }

  /**
   * Takes over the PENDING workflows of these executors (default: this one). Those that were
   * waiting have their wake conditions re-armed; the others run as slots free. Each is claimed
   * (one attempt) when it runs, so two processes recovering the same executor run it once.
   */
  async recoverPendingWorkflows(executorIds: string[] = [this.executorId]): Promise<WorkflowHandle<unknown>[]> {
    this.assertOpen();
    if (!Array.isArray(executorIds)) throw new ConfigError('recoverPendingWorkflows executorIds must be an array');
    executorIds.forEach((id, i) => checkText(`recoverPendingWorkflows executorIds[${i}]`, id, MAX_ID_LENGTH));
    const { run, parked, requeued } = await recoverPending(this.#recovery, executorIds);
    // taken for this executor already; each counts its attempt when it runs
    const how = { how: 'claim' as const, from: 'self' as const };
    const track = (p: Promise<Completion>, id: string) =>
      p.catch((err) => this.#logger.error('skein: a recovered workflow failed to run', { workflowId: id, error: errorField(err) }));
    await inChunks(parked, (wf) => track(this.#dispatcher.park(wf, wf.wait, how), wf.id));
    await inChunks(run, (wf) => track(this.#dispatcher.enqueue(wf, how), wf.id));
    this.#counters.recoveries += run.length + parked.length + requeued.length;
    if (run.length + parked.length + requeued.length > 0) {
      this.#logger.info('skein: recovering pending workflows', {
        from: executorIds,
        running: run.length,
        waiting: parked.length,
        requeued: requeued.length,
      });
    }
    return [...run, ...parked].map((wf) => wf.id).concat(requeued).map((id) => new Handle(id, this));
  }

  /**
   * Ends the worker thread that runs workflow `id`, as a crash would: every workflow on that
   * thread runs again on another one from its last recorded step. For crash tests.
   */
  async killThread(workflowId: string): Promise<void> {
    this.assertOpen();
    checkText('killThread workflowId', workflowId, MAX_ID_LENGTH);
    return this.#dispatcher.killThread(workflowId);
  }

  /** Group-commit statistics since launch: flushes, transactions, units and rows written. */
  writerStats(): WriterStats {
    const a = this.#writer.stats();
    const b = this.#startWriter.stats();
    return {
      transactions: a.transactions + b.transactions,
      flushes: a.flushes + b.flushes,
      units: a.units + b.units,
      rows: a.rows + b.rows,
      failedFlushes: a.failedFlushes + b.failedFlushes,
    };
  }

  /**
   * Waits in progress (recv, getEvent, result) and the database checks they have cost, with
   * the workflows here by state: parked (off their threads) and ready (awaiting a slot).
   */
  waiterStats(): WaiterStats & { parked: number; ready: number; timers: number } {
    const { parked, ready, parkedChecks } = this.#dispatcher.stats();
    const own = this.#waiters.stats();
    // a check of parked workflows is one statement, whatever the number it covers
    // the heap is shared with schedules and delayed starts, whose timers are no workflow's wait
    const timers = this.#waiters.timers.size - this.#time.armedTimers;
    return { waiting: own.waiting, checks: own.checks + parkedChecks, parked, ready, timers };
  }

  /**
   * Counters since launch and gauges as of now (see SkeinMetrics); the queue gauges are read
   * from the database, across every process. The admin server serves the same at /metrics.
   */
  async metrics(): Promise<SkeinMetrics> {
    this.assertOpen();
    const c = this.#counters;
    const { onThreads, ready, parked } = this.#dispatcher.stats();
    const queues = await this.#queueGauges.get();
    return {
      executorId: this.executorId,
      appVersion: this.appVersion,
      workflowsStarted: c.workflowsStarted,
      workflowsFinished: { ...c.finished },
      steps: c.steps,
      stepErrors: c.stepErrors,
      retries: c.retries,
      threadDeaths: c.threadDeaths,
      recoveries: c.recoveries,
      workflows: { running: onThreads, parked, ready },
      queues,
      checkpointBatchSize: c.batchSize.snapshot(),
      wakeUpLatencyMs: c.wakeUpLatency.snapshot(),
    };
  }

  /** The admin server's address (`http://127.0.0.1:<port>`), or null without `config.admin`. */
  get adminUrl(): string | null {
    return this.#admin?.url ?? null;
  }

  /** Stops taking work, lets running workflows finish until `timeoutMs`, closes everything. */
  shutdown(given?: { timeoutMs?: number | undefined }): Promise<void> {
    let opts: { timeoutMs?: number };
    try {
      opts = checkOptions('shutdown options', given, SHUTDOWN_OPTIONS);
    } catch (err) {
      return Promise.reject(err);
    }
    this.#closed ??= (async () => {
      this.markClosed('skein was shut down: this Skein takes no more calls');
      const admin = this.#admin?.close();
      const watching = this.#registry.stopWatching();
      const polls = [...this.#queues.values()].map((runner) => runner.close());
      for (const unsubscribe of this.#unsubscribe) unsubscribe();
      await this.#time.close();
      await this.#sweeper.stop();
      await this.#youngTables.stop();
      await Promise.allSettled([...polls, watching]);
      await this.#dispatcher.close(opts.timeoutMs ?? 10_000);
      await this.#startWriter.idle();
      // last, with nothing running here: its lock frees and a live executor takes what is left
      await this.#registry.close();
      await this.closeCommon();
      await this.#claimPool.end();
      await admin;
      await this.#embedded?.stop();
    })();
    return this.#closed;
  }

  protected override localCompletion(id: string): Promise<Completion> | undefined {
    return this.#dispatcher.completion(id);
  }

  protected override localFinish(id: string): Promise<Completion> | undefined {
    return this.#dispatcher.finishing(id);
  }

  protected override cancelledHere(id: string, reason: CancelReason, force: boolean): void {
    this.#dispatcher.cancel(id, reason, force);
  }

  protected override checkScheduleQueue(queue: string): void {
    const runner = queue.startsWith(RESERVED_QUEUE_PREFIX) ? undefined : this.#queues.get(queue);
    if (!runner) throw new ConfigError(`createSchedule options.queue: '${queue}' is not declared in config.queues of this process`);
    if (runner.config.partitionConcurrency !== undefined) {
      throw new ConfigError(`createSchedule options.queue: queue '${queue}' is partitioned, and scheduled runs have no partitionKey`);
    }
  }

  protected override workflowCreated(w: CreatedWorkflow): void {
    this.#observer.created(w);
  }

  protected override get starterId(): string {
    return this.executorId;
  }

  protected override get forkVersion(): string | null {
    return this.appVersion;
  }

  protected override defaultRetention(): Retention | undefined {
    return this.#config.retention;
  }

  protected override rateWindowMs(): number {
    return this.#rateWindowMs;
  }

  /** After a LISTEN reconnect: cancels sent meanwhile were missed; the database has them. */
  async #recheckCancels(): Promise<void> {
    const ids = this.#dispatcher.running();
    if (ids.length === 0) return;
    try {
      for (const id of await cancelledAmong(this.parts.pool, this.#config.schema, ids)) {
        this.#dispatcher.cancel(id, 'cancelled', false);
      }
    } catch (err) {
      this.#logger.warn('skein: cancels could not be re-checked after a reconnect', { error: errorField(err) });
    }
  }

  /** A parked workflow's wake condition, on its row: a relaunch re-arms it (recovery/). */
  #recordWait(id: string, w: WakeCondition): Promise<unknown> {
    return this.#writer.write([
      {
        kind: 'parkWorkflow',
        row: {
          id,
          executorId: this.executorId,
          kind: w.kind,
          waitFor: w.target?.[0] ?? null,
          waitName: w.target?.[1] ?? null,
          wakeAt: w.until ?? null,
          waitStep: w.stepId ?? null,
        },
      },
    ]);
  }

  /** Writes a final status, waiting out database outages: the result exists only here. */
  async #finish(exec: WorkflowRef, completion: Completion): Promise<boolean> {
    if (completion.status === 'STOPPED') return false;
    const { id } = exec;
    const row = { id, executorId: this.executorId, status: completion.status, output: completion.output, error: completion.error };
    const { schema } = this.#config;
    // a queued workflow's end may free a global slot that another process is waiting for
    const ops: WriteOp[] = [{ kind: 'finishWorkflow', row }, notifyOp(schema, wakeKey.done(id))];
    if (exec.queue) ops.push(notifyOp(schema, wakeKey.queue(exec.queue)));
    for (let pause = 50; ; pause = Math.min(pause * 2, 5000)) {
      try {
        const [applied] = await this.#writer.write(ops);
        return applied!;
      } catch (err) {
        // Given up at shutdown, it stays PENDING and the next launch recovers it.
        if (!isTransient(err) || this.#closed) throw err;
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  /**
   * The row of a new workflow of this process (or an enqueued one, with o.queue). A deadline
   * counts from when it starts running: now for one that runs at once, at dequeue for a queued
   * one; either way never later than its parent's (`cap`).
   */
  #newRow(name: string, input: Uint8Array, o: StartOptions, parentId: string | null, cap?: number): NewWorkflow {
    // a delayed start without a queue waits in the internal one, which every Skein serves
    const delayed = isDelayed(o);
    const queue = o.queue ?? (delayed ? INTERNAL_QUEUE : undefined);
    const own = o.timeoutMs === undefined || queue !== undefined ? undefined : this.#waiters.timers.now() + o.timeoutMs;
    const deadline = own === undefined ? cap : cap === undefined ? own : Math.min(own, cap);
    return {
      id: o.id ?? randomUUID(),
      name,
      status: queue === undefined ? 'PENDING' : 'ENQUEUED',
      input,
      executorId: this.executorId,
      appVersion: o.appVersion ?? this.appVersion,
      queue: queue ?? null,
      startAt: o.startAt?.getTime() ?? null,
      // from the database's now, shifted as far as a test clock runs ahead (common/clock.ts)
      delayMs: o.delayMs === undefined ? null : o.delayMs + (o.delayMs > 0 ? this.#config.clock.shiftMs : 0),
      delayed,
      partitionKey: o.partitionKey ?? null,
      priority: o.priority ?? 0,
      dedupId: o.dedupId ?? null,
      parentId,
      userName: o.user ?? null,
      timeoutMs: o.timeoutMs ?? null,
      deadline: deadline ?? null,
    };
  }

  /** A queue must be served here: a typo would otherwise park work that nothing runs. */
  #checkQueue(o: StartOptions, at: string): StartOptions {
    if (o.queue === undefined) return o;
    const runner = o.queue.startsWith(RESERVED_QUEUE_PREFIX) ? undefined : this.#queues.get(o.queue);
    if (!runner) {
      throw new ConfigError(
        `${at}.queue: '${o.queue}' is not declared in config.queues of this process ` +
          `(declared: ${[...this.#queues.keys()].filter((q) => q !== INTERNAL_QUEUE).join(', ') || 'none'})`,
      );
    }
    if (o.priority !== undefined && !runner.config.priority) {
      throw new ConfigError(`${at}.priority: queue '${o.queue}' does not have priority enabled`);
    }
    const partitioned = runner.config.partitionConcurrency !== undefined;
    if (partitioned !== (o.partitionKey !== undefined)) {
      throw new ConfigError(
        partitioned
          ? `${at}.partitionKey is required: queue '${o.queue}' has partitionConcurrency`
          : `${at}.partitionKey: queue '${o.queue}' has no partitionConcurrency`,
      );
    }
    return o;
  }

  /**
   * A new PENDING row of this version runs here at once; enqueued ones wait for their queue.
   * `due`: a schedule's tick, which waits for a slot ahead of other starts.
   */
  #runIfOurs(row: NewWorkflow, due = false): void {
    if (row.status === 'PENDING' && row.appVersion === this.appVersion) {
      const deadline = row.deadline ?? undefined;
      this.#dispatch({ id: row.id, name: row.name, input: row.input, attempt: 1, steps: [], deadline }, due);
    }
  }

  /**
   * A workflow's ctx.startWorkflow: the child's row and the parent's step commit together, so
   * a replay finds the step and starts nothing new. Usage errors are thrown to the workflow.
   */
  async #startChild(parentId: string, req: StartChildMessage): Promise<{ thrown?: Uint8Array }> {
    let row: NewWorkflow;
    try {
      if (!this.#module.workflows.has(req.name)) {
        throw new UnknownWorkflowError(`workflow '${req.name}' is not exported by ${this.#config.workflowsUrl}`);
      }
      const o = this.#checkQueue(
        validateStartOptions(
          {
            id: req.childId, queue: req.queue, priority: req.priority, dedupId: req.dedupId, timeoutMs: req.timeoutMs,
            delayMs: req.delayMs, startAt: req.startAt === undefined ? undefined : new Date(req.startAt), partitionKey: req.partitionKey,
          },
          'ctx.startWorkflow options',
        ),
        'ctx.startWorkflow options',
      );
      row = this.#newRow(req.name, req.input, o, parentId, this.#dispatcher.deadlineOf(parentId));
      const step = {
        kind: 'recordStep' as const,
        row: {
          workflowId: parentId, stepId: req.stepId, name: req.stepName, output: null, error: null,
          childWorkflowId: row.id, startedAt: this.#waiters.timers.now(),
        },
      };
      const ops = [...newWorkflowOps(this.#config.schema, row), step];
      const { inserted, conflict } = await writeNewWorkflow(this.#newWorkflowTarget(this.#writer), row, ops);
      if (conflict) {
        // The step committed with the lost insert, naming the other workflow's row as its
        // child: it records the refusal instead, so a replay throws it rather than asking again.
        const thrown = encodeError(conflict);
        await refuseChildStart(this.parts.pool, this.#config.schema, parentId, req.stepId, thrown);
        return { thrown };
      }
      if (inserted) this.#runIfOurs(row);
      return {};
    } catch (err) {
      if (err instanceof ConfigError || err instanceof UnknownWorkflowError || err instanceof DuplicateWorkflowError) {
        return { thrown: encodeError(err) };
      }
      throw err;
    }
  }

  /** A schedule's ticks: each inserted once across all processes, and run here if this insert won. */
  async #startTicks(ticks: TickStart[]): Promise<void> {
    await Promise.all(
      ticks.map(async (t) => {
        const row = { ...this.#newRow(t.workflow, t.input, { id: t.id, queue: t.queue ?? undefined }, null), scheduleId: t.scheduleId };
        const { inserted } = await writeNewWorkflow(this.#newWorkflowTarget(this.#startWriter), row, newWorkflowOps(this.#config.schema, row));
        if (inserted) this.#runIfOurs(row, true);
      }),
    );
  }

  /** Dispatches a workflow a queue runner claimed; resolves when it ends here. */
  async #dispatchClaimed(row: ClaimedRow, queue: string): Promise<unknown> {
    const def = this.#module.workflows.get(row.name);
    if (!def) {
      // the claim takes only names this module exports: reaching here means it changed under us
      this.#logger.error('skein: a workflow claimed from a queue is not registered here', { queue, workflowId: row.id, name: row.name });
      const error = encodeError(new UnknownWorkflowError(`workflow '${row.name}' is not exported by ${this.#config.workflowsUrl}`));
      const completion = { status: 'ERROR' as const, output: null, error };
      if (await this.#finish({ id: row.id, name: row.name, queue }, completion)) this.#observer.ended(row.id, completion);
      return;
    }
    if (row.attempts > def.options.maxRecoveryAttempts) {
      // it was dequeued again after too many interrupted runs: dead-letter it instead
      await deadLetter(this.parts.pool, this.#config.schema, row.id);
      this.#observer.deadLettered();
      this.#logger.warn('skein: a workflow was dead-lettered (MAX_RECOVERY_ATTEMPTS_EXCEEDED) after too many interrupted runs', {
        workflowId: row.id,
        name: row.name,
        attempts: row.attempts - 1,
      });
      await notify(this.parts.pool, this.#config.schema, wakeKey.done(row.id));
      return;
    }
    // a first run has nothing recorded; a re-run (requeued after a crash), a resumed or a
    // forked workflow replays its steps
    const steps = row.has_steps ? await recordedSteps(this.parts.pool, this.#config.schema, row.id) : [];
    const deadline = row.deadline?.getTime();
    return this.#dispatcher.dispatch({ id: row.id, name: row.name, queue, input: row.input, attempt: row.attempts, steps, deadline });
  }

  #dispatch(exec: Execution, due = false): void {
    // Completions are awaited through handles; a failure here only means this process did not
    // finish it, and the workflow stays PENDING for recovery. (Only the ID is kept: the closure
    // lives as long as the workflow, parked ones included, and must not hold its input.)
    const { id } = exec;
    this.#dispatcher.dispatch(exec, { due }).catch((err) => this.#logger.error('skein: a workflow failed to run', { workflowId: id, error: errorField(err) }));
  }

  #registered(wf: Workflow<any, any>): Workflow {
    // a name given as a string is caller's text like any other (workflow() checked the others)
    const name = isWorkflow(wf) ? wf.name : typeof wf === 'string' ? checkStorable('workflow name', wf) : undefined;
    const def = name === undefined ? undefined : this.#module.workflows.get(name);
    if (!def) {
      throw new UnknownWorkflowError(
        `workflow ${name === undefined ? String(wf) : `'${name}'`} is not exported by ` +
          `${this.#config.workflowsUrl}; export it from that module so worker threads can find it`,
      );
    }
    return def;
  }

  #newWorkflowTarget(writer: GroupCommitWriter): NewWorkflowTarget {
    return { writer, pool: this.parts.pool, schema: this.#config.schema, created: (row) => this.#observer.created(row) };
  }

}
