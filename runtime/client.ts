// Client: talks to skein workflows from another process (a web server, a script, a CLI) without
// running any. It needs the schema a Skein created at launch.
import { checkDatabase } from '../storage/connect.ts';
import { createPool } from '../storage/database.ts';
import { isServerGoodbye } from '../storage/pg-errors.ts';
import { validateSchemaName } from '../storage/identifiers.ts';
import { notifyChannel } from '../storage/messages.ts';
import { GroupCommitWriter } from '../storage/writer.ts';
import { ConfigError } from '../common/errors.ts';
import { randomUUID } from 'node:crypto';
import type { NewWorkflow } from '../storage/write-ops.ts';
import { encodeValue } from '../common/codec.ts';
import { boundLogger, defaultLogger, errorField, type Logger } from '../common/logger.ts';
import { checkOptions, CLIENT_CONFIG, DEFAULT_CONNECT_TIMEOUT_MS, ENQUEUE_OPTIONS } from '../common/options.ts';
import { CommonApi } from './common-api.ts';
import type { WorkflowHandle } from './handle.ts';
import { isDelayed, newWorkflowOps, writeNewWorkflow } from './new-workflow.ts';
import { validateStartOptions, type StartOptions } from './options.ts';
import { hasSchema } from '../storage/migrate.ts';
import { Waiters } from './waiters.ts';

export interface EnqueueOptions extends StartOptions {
  /** the workflow's name, as given to workflow() */
  workflow: string;
  queue: string;
}

export interface ClientConfig {
  /** default: SKEIN_DATABASE_URL, then DATABASE_URL */
  databaseUrl?: string | undefined;
  schema?: string | undefined;
  /** a database that does not answer within this long is a ConfigError naming databaseUrl; default 10 s */
  connectTimeoutMs?: number | undefined;
  /** where log lines go; default as SkeinConfig.logger */
  logger?: Logger | undefined;
}

export class Client extends CommonApi {
  #closed: Promise<void> | null = null;

  static async connect(given: ClientConfig = {}): Promise<Client> {
    const config = checkOptions<ClientConfig>('config', given, CLIENT_CONFIG);
    const databaseUrl = config.databaseUrl ?? (process.env.SKEIN_DATABASE_URL || process.env.DATABASE_URL);
    if (!databaseUrl) {
      throw new ConfigError('Client.connect needs config.databaseUrl (or SKEIN_DATABASE_URL / DATABASE_URL)');
    }
    const schema = validateSchemaName(config.schema ?? 'skein');
    const connectTimeoutMs = config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const logger = config.logger ? boundLogger(config.logger) : defaultLogger();
    await checkDatabase(databaseUrl, { given: config.databaseUrl, timeoutMs: connectTimeoutMs, embeddedFallback: false });
    // a server ending an idle connection (restart, shutdown) is routine: the pool opens another
    const onIdleError = (err: Error) =>
      isServerGoodbye(err) || logger.warn('skein client: an idle database connection failed', { error: errorField(err) });
    const pool = createPool(databaseUrl, 4, onIdleError, { connectTimeoutMs });
    try {
      if (!(await hasSchema(pool, schema))) {
        throw new ConfigError(`schema '${schema}' has no skein tables: launch a Skein on this database first`);
      }
      const waiters = await Waiters.connect(databaseUrl, notifyChannel(schema), { connectTimeoutMs, logger });
      return new Client({ pool, schema, writer: new GroupCommitWriter(pool, schema, logger), waiters, errorClasses: new Map() });
    } catch (err) {
      await pool.end();
      throw err;
    }
  }

  /**
   * Enqueues a workflow by name. Any queue name is accepted: the workflow waits until a process
   * that serves that queue, and has that workflow, dequeues it. Without `appVersion` it runs
   * under the version of whichever executor dequeues it.
   */
  async enqueue<O = unknown>(opts: EnqueueOptions, input: unknown): Promise<WorkflowHandle<O>> {
    this.assertOpen();
    checkOptions<EnqueueOptions>('enqueue options', opts, ENQUEUE_OPTIONS);
    const { workflow: _name, ...start } = opts;
    const o = validateStartOptions(start, 'enqueue options');
    const row: NewWorkflow = {
      id: o.id ?? randomUUID(),
      name: opts.workflow,
      status: 'ENQUEUED',
      input: encodeValue(input, `input of workflow '${opts.workflow}'`),
      executorId: 'client',
      appVersion: o.appVersion ?? null,
      queue: o.queue!,
      startAt: o.startAt?.getTime() ?? null,
      delayMs: o.delayMs ?? null,
      delayed: isDelayed(o),
      partitionKey: o.partitionKey ?? null,
      priority: o.priority ?? 0,
      dedupId: o.dedupId ?? null,
      parentId: null,
      userName: o.user ?? null,
      timeoutMs: o.timeoutMs ?? null,
      // its clock starts at dequeue
      deadline: null,
    };
    const { conflict } = await writeNewWorkflow(this.parts, row, newWorkflowOps(this.parts.schema, row));
    if (conflict) throw conflict;
    return this.retrieve<O>(row.id);
  }

  close(): Promise<void> {
    this.markClosed('this Client was closed');
    this.#closed ??= this.closeCommon();
    return this.#closed;
  }
}
