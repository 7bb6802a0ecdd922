// Skein: the public runtime object. Lives on the main thread, where it coordinates: it writes
// and reads status rows, hands executions to the dispatcher, answers workflows' requests and
// handles. It never runs workflow code.
import { randomUUID } from 'node:crypto';
import { computeAppVersion } from '../recovery/app-version.ts';
import { recoverPending, redispatch, type RecoveryDeps } from '../recovery/recover.ts';
import { createPool, isTransient, type Pool } from '../storage/database.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../storage/embedded.ts';
import { notifyChannel, wakeKey } from '../storage/messages.ts';
import { migrate } from '../storage/migrate.ts';
import { GroupCommitWriter, type WriterStats } from '../storage/writer.ts';
import { encodeValue } from '../threads/codec.ts';
import { ConfigError, SkeinError, UnknownWorkflowError } from '../threads/errors.ts';
import { loadWorkflows } from '../threads/loader.ts';
import { isWorkflow, type ScannedModule, type Workflow } from '../threads/workflow.ts';
import { CommonApi } from './common-api.ts';
import { resolveConfig, type ResolvedConfig, type SkeinConfig } from './config.ts';
import { Dispatcher, type Completion, type Execution } from './dispatcher.ts';
import { Handle, type WorkflowHandle } from './handle.ts';
import { validateStartOptions, type StartOptions } from './options.ts';
import { serveRequest } from './requests.ts';
import { Waiters, type WaiterStats } from './waiters.ts';

interface Parts {
  config: ResolvedConfig;
  module: ScannedModule;
  appVersion: string;
  databaseUrl: string;
  pool: Pool;
  waiters: Waiters;
  embedded: EmbeddedPostgres | null;
}

function log(message: string): void {
  console.error(message);
}

export class Skein extends CommonApi {
  readonly executorId: string;
  readonly appVersion: string;
  readonly databaseUrl: string;
  readonly #config: ResolvedConfig;
  readonly #module: ScannedModule;
  readonly #embedded: EmbeddedPostgres | null;
  readonly #writer: GroupCommitWriter;
  readonly #waiters: Waiters;
  readonly #dispatcher: Dispatcher;
  readonly #recovery: RecoveryDeps;
  #closed: Promise<void> | null = null;

  private constructor(p: Parts, writer: GroupCommitWriter) {
    super({ pool: p.pool, schema: p.config.schema, writer, waiters: p.waiters, errorClasses: p.module.errorClasses });
    this.#config = p.config;
    this.#module = p.module;
    this.#embedded = p.embedded;
    this.#writer = writer;
    this.#waiters = p.waiters;
    this.executorId = p.config.executorId;
    this.appVersion = p.appVersion;
    this.databaseUrl = p.databaseUrl;
    this.#recovery = {
      pool: p.pool,
      schema: p.config.schema,
      executorId: this.executorId,
      appVersion: this.appVersion,
      workflows: p.module.workflows,
      log,
    };
    const requestDeps = { pool: p.pool, schema: p.config.schema, writer, waiters: p.waiters };
    this.#dispatcher = new Dispatcher({
      workflowsModule: p.config.workflowsUrl,
      threads: p.config.threads,
      workflowsPerThread: p.config.workflowsPerThread,
      resourceLimits: p.config.resourceLimits,
      serve: (workflowId, req, signal) => serveRequest(requestDeps, workflowId, req, signal),
      redispatch: (exec, closing) => redispatch(this.#recovery, exec, closing),
      finish: (id, completion) => this.#finish(id, completion),
      onError: (err) => log(`skein: worker pool error: ${err}`),
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
    const pool = createPool(databaseUrl, 10, (err) => log(`skein: idle connection: ${err.message}`));
    let waiters: Waiters | undefined;
    try {
      await migrate(pool, resolved.schema);
      waiters = await Waiters.connect(databaseUrl, notifyChannel(resolved.schema), {
        pollMs: resolved.safetyPollMs,
        log,
      });
    } catch (err) {
      await pool.end();
      await embedded?.stop();
      throw err;
    }
    const appVersion = resolved.appVersion ?? computeAppVersion(module.workflows.values());
    const parts = { config: resolved, module, appVersion, databaseUrl, pool, waiters, embedded };
    const skein = new Skein(parts, new GroupCommitWriter(pool, resolved.schema));
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

  /** Takes over the PENDING workflows of these executors (default: this one). */
  async recoverPendingWorkflows(executorIds: string[] = [this.executorId]): Promise<WorkflowHandle<unknown>[]> {
    this.#assertOpen();
    const executions = await recoverPending(this.#recovery, executorIds);
    for (const exec of executions) this.#dispatch(exec);
    return executions.map((exec) => new Handle(exec.id, this));
  }

  /**
   * Ends the worker thread that runs workflow `id`, as a crash would: every workflow on that
   * thread runs again on another one from its last recorded step. For crash tests.
   */
  killThread(workflowId: string): Promise<void> {
    this.#assertOpen();
    return this.#dispatcher.killThread(workflowId);
  }

  /** Group-commit statistics since launch: flushes, transactions, units and rows written. */
  writerStats(): WriterStats {
    return this.#writer.stats();
  }

  /** Waits in progress (recv, getEvent, result) and the database checks they have cost. */
  waiterStats(): WaiterStats {
    return this.#waiters.stats();
  }

  /** Stops taking work, lets running workflows finish until `timeoutMs`, closes everything. */
  shutdown(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed ??= (async () => {
      await this.#dispatcher.close(opts.timeoutMs ?? 10_000);
      await this.closeCommon();
      await this.#embedded?.stop();
    })();
    return this.#closed;
  }

  protected override localCompletion(id: string): Promise<Completion> | undefined {
    return this.#dispatcher.completion(id);
  }

  /** Writes a final status, waiting out database outages: the result exists only here. */
  async #finish(id: string, completion: Completion): Promise<boolean> {
    if (completion.status === 'STOPPED') return false;
    const row = { id, status: completion.status, output: completion.output, error: completion.error };
    const notify = { channel: notifyChannel(this.#config.schema), payload: wakeKey.done(id) };
    for (let pause = 50; ; pause = Math.min(pause * 2, 5000)) {
      try {
        const [applied] = await this.#writer.write([
          { kind: 'finishWorkflow', row },
          { kind: 'notify', row: notify },
        ]);
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
    this.#dispatcher.dispatch(exec).catch((err) => log(`skein: ${exec.id}: ${err}`));
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
}
