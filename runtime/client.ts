// Client: talks to skein workflows from another process (a web server, a script, a CLI) without
// running any. It needs the schema a Skein created at launch.
import { checkDatabase } from '../storage/connect.ts';
import { createPool, isServerGoodbye } from '../storage/database.ts';
import { validateSchemaName } from '../storage/identifiers.ts';
import { notifyChannel } from '../storage/messages.ts';
import { GroupCommitWriter } from '../storage/writer.ts';
import { ConfigError } from '../common/errors.ts';
import { randomUUID } from 'node:crypto';
import type { NewWorkflow } from '../storage/write-ops.ts';
import { encodeValue } from '../common/codec.ts';
import { checkText, MAX_WORKFLOW_NAME_LENGTH } from '../common/validate.ts';
import { CommonApi } from './common-api.ts';
import { connectTimeout } from './config.ts';
import type { WorkflowHandle } from './handle.ts';
import { newWorkflowOps, writeNewWorkflow } from './new-workflow.ts';
import { validateStartOptions, type StartOptions } from './options.ts';
import { Waiters } from './waiters.ts';

export interface EnqueueOptions extends StartOptions {
  /** the workflow's name, as given to workflow() */
  workflow: string;
  queue: string;
}

export interface ClientConfig {
  /** default: SKEIN_DATABASE_URL, then DATABASE_URL */
  databaseUrl?: string;
  schema?: string;
  /** a database that does not answer within this long is a ConfigError naming databaseUrl; default 10 s */
  connectTimeoutMs?: number;
}

export class Client extends CommonApi {
  #closed: Promise<void> | null = null;

  static async connect(config: ClientConfig = {}): Promise<Client> {
    const databaseUrl = config.databaseUrl ?? (process.env.SKEIN_DATABASE_URL || process.env.DATABASE_URL);
    if (!databaseUrl) {
      throw new ConfigError('Client.connect needs config.databaseUrl (or SKEIN_DATABASE_URL / DATABASE_URL)');
    }
    const schema = validateSchemaName(config.schema ?? 'skein');
    const connectTimeoutMs = connectTimeout(config.connectTimeoutMs);
    await checkDatabase(databaseUrl, { given: config.databaseUrl, timeoutMs: connectTimeoutMs, embeddedFallback: false });
    const log = (m: string) => console.error(m);
    // a server ending an idle connection (restart, shutdown) is routine: the pool opens another
    const onIdleError = (err: Error) => isServerGoodbye(err) || log(`skein client: idle connection: ${err.message}`);
    const pool = createPool(databaseUrl, 4, onIdleError, { connectTimeoutMs });
    try {
      const { rows } = await pool.query('SELECT to_regclass($1) AS t', [`${schema}.workflow_status`]);
      if (!rows[0].t) {
        throw new ConfigError(`schema '${schema}' has no skein tables: launch a Skein on this database first`);
      }
      const waiters = await Waiters.connect(databaseUrl, notifyChannel(schema), { connectTimeoutMs, log });
      return new Client({ pool, schema, writer: new GroupCommitWriter(pool, schema), waiters, errorClasses: new Map() });
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
    if (typeof opts !== 'object' || opts === null) throw new ConfigError('enqueue options must be an object');
    checkText('enqueue options.workflow', opts.workflow, MAX_WORKFLOW_NAME_LENGTH);
    if (opts.queue === undefined) throw new ConfigError('enqueue options.queue is required');
    const o = validateStartOptions({ ...opts, workflow: undefined } as StartOptions);
    const row: NewWorkflow = {
      id: o.id ?? randomUUID(),
      name: opts.workflow,
      status: 'ENQUEUED',
      input: encodeValue(input, `input of workflow '${opts.workflow}'`),
      executorId: 'client',
      appVersion: o.appVersion ?? null,
      queue: o.queue!,
      priority: o.priority ?? 0,
      dedupId: o.dedupId ?? null,
      parentId: null,
      userName: o.user ?? null,
      timeoutMs: null,
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
