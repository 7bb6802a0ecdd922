// Skein: the public runtime object. Lives on the main thread, where it coordinates: it writes
// and reads status rows, hands executions to the dispatcher and answers handles. It never runs
// workflow code.
import { randomUUID } from 'node:crypto';
import { computeAppVersion } from '../recovery/app-version.ts';
import { recoverPending, redispatch, type RecoveryDeps } from '../recovery/recover.ts';
import { createPool, isTransient, type Pool } from '../storage/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../storage/embedded.ts';
import { migrate } from '../storage/migrate.ts';
import { loadSteps } from '../storage/steps.ts';
import { getWorkflow, listWorkflows } from '../storage/workflows.ts';
import { GroupCommitWriter, type WriterStats } from '../storage/writer.ts';
import { encodeValue } from '../threads/codec.ts';
import { ConfigError, SkeinError, UnknownWorkflowError } from '../threads/errors.ts';
import { loadWorkflows } from '../threads/loader.ts';
import { isWorkflow, type ScannedModule, type Workflow } from '../threads/workflow.ts';
import { resolveConfig, type ResolvedConfig, type SkeinConfig } from './config.ts';
import { Dispatcher, type Completion, type Execution } from './dispatcher.ts';
import { Handle, type HandleSource, type WorkflowHandle } from './handle.ts';
import { validateListFilter, validateStartOptions, type ListFilter, type StartOptions } from './options.ts';
import { awaitOutcome, settle } from './outcome.ts';
import { toStepInfo, toWorkflowStatus, type StepInfo, type WorkflowStatus } from './status.ts';

interface Parts {
  config: ResolvedConfig;
  module: ScannedModule;
  appVersion: string;
  databaseUrl: string;
  pool: Pool;
  embedded: EmbeddedPostgres | null;
}

export class Skein implements HandleSource {
  readonly executorId: string;
  readonly appVersion: string;
  readonly databaseUrl: string;
  readonly #config: ResolvedConfig;
  readonly #module: ScannedModule;
  readonly #pool: Pool;
  readonly #embedded: EmbeddedPostgres | null;
  readonly #writer: GroupCommitWriter;
  readonly #dispatcher: Dispatcher;
  readonly #recovery: RecoveryDeps;
  #closed: Promise<void> | null = null;

  private constructor(parts: Parts) {
    this.#config = parts.config;
    this.#module = parts.module;
    this.#pool = parts.pool;
    this.#embedded = parts.embedded;
    this.executorId = parts.config.executorId;
    this.appVersion = parts.appVersion;
    this.databaseUrl = parts.databaseUrl;
    this.#writer = new GroupCommitWriter(parts.pool, parts.config.schema);
    this.#recovery = {
      pool: parts.pool,
      schema: parts.config.schema,
      executorId: this.executorId,
      appVersion: this.appVersion,
      workflows: parts.module.workflows,
      log: (m) => this.#log(m),
    };
    this.#dispatcher = new Dispatcher({
      workflowsModule: parts.config.workflowsUrl,
      threads: parts.config.threads,
      workflowsPerThread: parts.config.workflowsPerThread,
      resourceLimits: parts.config.resourceLimits,
      writer: this.#writer,
      redispatch: (exec, closing) => redispatch(this.#recovery, exec, closing),
      finish: (id, completion) => this.#finish(id, completion),
      onError: (err) => this.#log(`skein: worker pool error: ${err}`),
    });
  }

  /** Migrates, recovers this executor's pending workflows, and starts the worker threads. */
  static async launch(config: SkeinConfig): Promise<Skein> {
    const resolved = resolveConfig(config);
    const module = await loadWorkflows(resolved.workflowsUrl);
    if (module.workflows.size === 0) {
      throw new ConfigError(`${resolved.workflowsUrl} exports no workflows`);
    }
    const embedded = resolved.databaseUrl ? null : await startEmbeddedPostgres(resolved.dataDir);
    const databaseUrl = resolved.databaseUrl ?? embedded!.url;
    const pool = createPool(databaseUrl, 10, (err) => console.error(`skein: idle connection: ${err.message}`));
    try {
      await migrate(pool, resolved.schema);
    } catch (err) {
      await pool.end();
      await embedded?.stop();
      throw err;
    }
    const appVersion = resolved.appVersion ?? computeAppVersion(module.workflows.values());
    const skein = new Skein({ config: resolved, module, appVersion, databaseUrl, pool, embedded });
    if (resolved.recover) await skein.recoverPendingWorkflows();
    return skein;
  }

  /** Durably starts a workflow; resolves once it is recorded. An existing ID runs nothing again. */
  async start<I, O>(wf: Workflow<I, O>, input: I, opts: StartOptions = {}): Promise<WorkflowHandle<O>> {
    this.#assertOpen();
    const def = this.#registered(wf);
    const o = validateStartOptions(opts);
    const id = o.id ?? randomUUID();
    const appVersion = o.appVersion ?? this.appVersion;
    const bytes = encodeValue(input, `input of workflow '${def.name}'`);
    const [inserted] = await this.#writer.write([
      {
        kind: 'insertWorkflow',
        row: {
          id,
          name: def.name,
          status: 'PENDING',
          input: bytes,
          executorId: this.executorId,
          appVersion,
          queue: null,
          priority: 0,
          dedupId: null,
          parentId: null,
          userName: o.user ?? null,
          timeoutMs: null,
        },
      },
    ]);
    // Another version's workflow waits for a process of that version to recover it.
    if (inserted && appVersion === this.appVersion) {
      this.#dispatch({ id, name: def.name, input: bytes, attempt: 1, steps: [] });
    }
    return new Handle<O>(id, this);
  }

  async run<I, O>(wf: Workflow<I, O>, input: I, opts?: StartOptions): Promise<O> {
    return (await this.start(wf, input, opts)).result();
  }

  retrieve<O = unknown>(id: string): WorkflowHandle<O> {
    if (typeof id !== 'string' || id.length === 0) throw new SkeinError('retrieve needs a workflow ID');
    return new Handle<O>(id, this);
  }

  async awaitResult<O>(id: string): Promise<O> {
    const outcome = await awaitOutcome(this.#pool, this.#config.schema, this.#dispatcher, id);
    return settle<O>(id, outcome, this.#module.errorClasses);
  }

  async getStatus(id: string): Promise<WorkflowStatus | null> {
    const row = await getWorkflow(this.#pool, this.#config.schema, id);
    return row && toWorkflowStatus(row, this.#module.errorClasses);
  }

  async listWorkflows(filter: ListFilter = {}): Promise<WorkflowStatus[]> {
    const q = validateListFilter(filter);
    const rows = await listWorkflows(this.#pool, this.#config.schema, q);
    return rows.map((r) => toWorkflowStatus(r, this.#module.errorClasses));
  }

  async getWorkflowSteps(id: string): Promise<StepInfo[]> {
    const rows = await loadSteps(this.#pool, this.#config.schema, id);
    return rows.map((r) => toStepInfo(r, this.#module.errorClasses));
  }

  /** Takes over the PENDING workflows of these executors (default: this one). */
  async recoverPendingWorkflows(executorIds: string[] = [this.executorId]): Promise<WorkflowHandle<unknown>[]> {
    this.#assertOpen();
    const executions = await recoverPending(this.#recovery, executorIds);
    for (const exec of executions) this.#dispatch(exec);
    return executions.map((exec) => new Handle(exec.id, this));
  }

  /**
   * Ends the worker thread that runs workflow `id`, as a crash would: every workflow on that
   * thread runs again on a fresh one from its last recorded step. For crash tests.
   */
  killThread(workflowId: string): Promise<void> {
    this.#assertOpen();
    return this.#dispatcher.killThread(workflowId);
  }

  /** Group-commit statistics since launch: flushes, transactions, units and rows written. */
  writerStats(): WriterStats {
    return this.#writer.stats();
  }

  /** Stops taking work, lets running workflows finish until `timeoutMs`, closes everything. */
  shutdown(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed ??= (async () => {
      await this.#dispatcher.close(opts.timeoutMs ?? 10_000);
      await this.#writer.idle();
      await this.#pool.end();
      await this.#embedded?.stop();
    })();
    return this.#closed;
  }

  /** Writes a final status, waiting out database outages: the result exists only here. */
  async #finish(id: string, completion: Completion): Promise<boolean> {
    if (completion.status === 'STOPPED') return false;
    const row = { id, status: completion.status, output: completion.output, error: completion.error };
    for (let pause = 50; ; pause = Math.min(pause * 2, 5000)) {
      try {
        const [applied] = await this.#writer.write([{ kind: 'finishWorkflow', row }]);
        return applied!;
      } catch (err) {
        // Given up at shutdown, it stays PENDING and the next launch recovers it.
        if (!isTransient(err) || this.#closed) throw err;
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  #dispatch(exec: Execution): void {
    // Completions are awaited through handles; a failure here only means this process did not
    // finish it, and the workflow stays PENDING for recovery.
    this.#dispatcher.dispatch(exec).catch((err) => this.#log(`skein: ${exec.id}: ${err}`));
  }

  #registered(wf: Workflow<any, any>): Workflow {
    const name = isWorkflow(wf) ? wf.name : typeof wf === 'string' ? wf : undefined;
    const def = name === undefined ? undefined : this.#module.workflows.get(name);
    if (!def) {
      throw new UnknownWorkflowError(
        `workflow ${name === undefined ? String(wf) : `'${name}'`} is not exported by ` +
          `${this.#config.workflowsUrl}; export it from that module so worker threads can find it`,
      );
    }
    return def;
  }

  #assertOpen(): void {
    if (this.#closed) throw new SkeinError('this Skein has been shut down');
  }

  #log(message: string): void {
    console.error(message);
  }
}
