// ctx.transaction's database side, on the worker thread that runs the workflow (the user's
// code runs here, so their transaction must too). One attempt: the user's function runs inside
// one Postgres transaction on a datasource, and its output is recorded in that same transaction
// under (workflow ID, step ID), so the user's writes and the record commit together or not at
// all. An attempt that finds the record (an earlier execution committed, then died before its
// checkpoint reached the system database) returns it and runs nothing: exactly once. A failure
// is recorded there too, after the rollback, so that of two executions racing on one
// transaction exactly one outcome wins. The one place outside storage/ with SQL and pg
// (DESIGN.md, Layout); it never touches skein's system tables, only transaction_outputs.
import type { PoolClient } from 'pg';
import { encodeError, encodeValue } from '../common/codec.ts';
import { NonDeterminismError, SkeinError } from '../common/errors.ts';
import { isTransient } from '../common/transient.ts';
import type { IsolationLevel } from '../common/workflow.ts';
import { guard, type Guarded } from './guard.ts';
import { datasource, transactionSchema, type Datasource } from './registry.ts';

export interface TransactionCall {
  workflowId: string;
  stepId: number;
  name: string;
  isolation: IsolationLevel;
  readOnly: boolean;
  datasource: string;
  /** the workflow's: a cancel ends the connection, whatever runs on it */
  signal: AbortSignal;
}

/** How one attempt ended: an outcome to checkpoint, or a failure of the database's to retry. */
export type Attempt =
  | { type: 'done'; output: Uint8Array | null; error: Uint8Array | null }
  | { type: 'retry'; cause: unknown };

const LEVEL: Record<IsolationLevel, string> = {
  'read committed': 'READ COMMITTED',
  'repeatable read': 'REPEATABLE READ',
  serializable: 'SERIALIZABLE',
};

/** How often Postgres checks, during a statement, that a datasource connection's thread is alive. */
const CONNECTION_CHECK_MS = 1000;

/**
 * What starts every attempt, in one round trip: BEGIN, then the session put back as a fresh
 * connection has it. The connection served other workflows before and will again, and a
 * function may have left anything on it (a SET without LOCAL, a temp table, a role, a LISTEN,
 * an advisory lock); undone here, no transaction sees another's leftovers. The resets run
 * inside the transaction, so one that rolls back leaves them to the next attempt's BEGIN,
 * which does them again. A killed thread's statement is noticed within a second where the
 * server can check (Postgres 14+): its locks go with it. READ ONLY comes last, after a query:
 * the function cannot switch it back.
 */
function begin(call: TransactionCall, source: Datasource): string {
  return [
    `BEGIN ISOLATION LEVEL ${LEVEL[call.isolation]} READ WRITE`,
    'CLOSE ALL',
    'SET SESSION AUTHORIZATION DEFAULT',
    'RESET ALL',
    'UNLISTEN *',
    'SELECT pg_advisory_unlock_all()',
    'DISCARD TEMP',
    'DISCARD SEQUENCES',
    ...(source.spec.connectionCheck ? [`SET client_connection_check_interval = ${CONNECTION_CHECK_MS}`] : []),
    ...(call.readOnly ? ['SET TRANSACTION READ ONLY'] : []),
  ].join('; ');
}

/**
 * Test hook (the testing kit's crash points build on it): called after a transaction committed
 * and before its checkpoint is sent, the one moment a crash leaves a record only here.
 */
const AFTER_COMMIT = Symbol.for('skein.testing.afterTransactionCommit');
type AfterCommit = (at: { workflowId: string; stepId: number; name: string }) => unknown;

/** A failure worth another attempt: the database's moment (a conflict, a lost connection). */
const retry = (cause: unknown): Attempt => ({ type: 'retry', cause });

interface Recorded {
  name: string;
  output: Uint8Array | null;
  error: Uint8Array | null;
}

/**
 * One attempt of transaction `call`. Never throws, except a NonDeterminismError when the record
 * found was made under another name (the code changed between the crash and this replay).
 */
export async function attemptTransaction<T>(call: TransactionCall, fn: (tx: PoolClient) => Promise<T>): Promise<Attempt> {
  const source = await datasource(call.datasource);
  let client: PoolClient;
  try {
    client = await source.pool.connect();
  } catch (err) {
    return retry(err);
  }
  const attempt = new AttemptOn(client, source, call);
  const cancel = () => attempt.abandon(call.signal.reason);
  call.signal.addEventListener('abort', cancel, { once: true });
  try {
    if (call.signal.aborted) return retry(call.signal.reason);
    return await attempt.run(fn);
  } finally {
    call.signal.removeEventListener('abort', cancel);
    attempt.release();
  }
}

class AttemptOn {
  readonly #client: PoolClient;
  readonly #source: Datasource;
  readonly #call: TransactionCall;
  readonly #schema = transactionSchema();
  /** why the connection cannot be trusted any more: it is destroyed, not pooled again */
  #broken: Error | undefined;
  #released = false;
  /** the function's view of the connection, while it runs */
  #guarded: Guarded | undefined;
  /** rejects when the workflow is cancelled, so the attempt ends without waiting for the function */
  readonly #cancelled: Promise<never>;
  #cancel!: (reason: unknown) => void;

  constructor(client: PoolClient, source: Datasource, call: TransactionCall) {
    this.#client = client;
    this.#source = source;
    this.#call = call;
    this.#cancelled = new Promise<never>((_, reject) => (this.#cancel = reject));
    this.#cancelled.catch(() => {});
  }

  async run<T>(fn: (tx: PoolClient) => Promise<T>): Promise<Attempt> {
    const call = this.#call;
    try {
      await this.#client.query(begin(call, this.#source));
      if (!call.readOnly) {
        const found = await this.#lookup();
        if (found) {
          await this.#rollback();
          return this.#replayed(found);
        }
      }
    } catch (err) {
      if (err instanceof NonDeterminismError) throw err;
      // skein's own statements: whatever failed them (a lost connection, a missing grant) is the
      // database's, never the workflow's to carry as its outcome
      await this.#rollback();
      return retry(err);
    }

    this.#guarded = guard(this.#client, call.name);
    let value: T;
    try {
      value = await Promise.race([fn(this.#guarded.tx), this.#cancelled]);
    } catch (err) {
      return this.#functionFailed(err);
    } finally {
      this.#guarded.close();
    }
    // Postgres's own word on the transaction, from the last ReadyForQuery
    const status = (this.#client as unknown as { getTransactionStatus(): string | null }).getTransactionStatus();
    if (status === 'E') {
      await this.#rollback();
      return this.#failed(aborted(call));
    }
    if (status !== 'T') {
      // committed or rolled back by the function itself: what it wrote is beyond skein's
      // reach, and recording success would claim an exactly-once that did not hold
      return this.#failed(new SkeinError(
        `transaction '${call.name}' (step ${call.stepId}): the function ended the transaction itself ` +
          `(COMMIT or ROLLBACK through tx); skein begins and commits it`,
      ));
    }
    let output: Uint8Array;
    try {
      // encoded inside the transaction: a result that cannot be stored rolls the writes back
      output = encodeValue(value, `transaction '${call.name}' result`);
    } catch (err) {
      await this.#rollback();
      return this.#failed(err);
    }
    if (!call.readOnly) {
      try {
        await this.#client.query(
          `INSERT INTO ${this.#schema}.transaction_outputs (workflow_id, step_id, name, output) VALUES ($1, $2, $3, $4)`,
          [call.workflowId, call.stepId, call.name, output],
        );
      } catch (err) {
        await this.#rollback();
        // a statement of the function's failed after it returned (one it did not await)
        if ((err as { code?: unknown }).code === '25P02') return this.#failed(aborted(call));
        // 23505: another execution of this workflow committed this transaction first; the next
        // attempt finds its record and returns its outcome (these writes are rolled back)
        return retry(err);
      }
    }
    try {
      const commit = await this.#client.query('COMMIT');
      // Postgres answers COMMIT of an aborted transaction with ROLLBACK, not an error (a
      // read-only one: no record insert ran to find out)
      if (commit.command === 'ROLLBACK') return this.#failed(aborted(call));
    } catch (err) {
      await this.#rollback();
      // a lost connection leaves the COMMIT's fate unknown (the next attempt's lookup settles
      // it) and a conflict found at commit is retried; anything else the server refused at
      // commit (a deferred constraint) is the transaction's own failure
      return isTransient(err) || this.#broken ? retry(err) : this.#failed(err);
    }
    const hook = (globalThis as Record<symbol, AfterCommit | undefined>)[AFTER_COMMIT];
    // committed: whatever the hook does, the outcome is this output
    if (hook) await (async () => hook({ workflowId: call.workflowId, stepId: call.stepId, name: call.name }))().catch(() => {});
    return { type: 'done', output, error: null };
  }

  /**
   * The workflow was cancelled: the connection is ended under whatever runs on it (Postgres
   * rolls its transaction back) and its place in the pool freed at once, for the other
   * workflows of this thread; a function still running meets a closed `tx`.
   */
  abandon(reason: unknown): void {
    this.#broken ??= reason instanceof Error ? reason : new Error(String(reason));
    this.#guarded?.close();
    this.#cancel(reason);
    (this.#client as unknown as { end(): Promise<void> }).end().catch(() => {});
    this.release();
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#client.release(this.#broken);
  }

  /**
   * The function threw. A conflict it let through (a serialization failure, a deadlock, sent by
   * the server) is retried, and so is anything when the connection itself is gone; any other
   * error is the transaction's outcome, whatever its code says (an HTTP client's ECONNREFUSED is
   * not this database's).
   */
  async #functionFailed(err: unknown): Promise<Attempt> {
    await this.#rollback();
    if (this.#broken) return retry(err);
    const code = (err as { code?: unknown } | null)?.code;
    if (err instanceof this.#source.DatabaseError && (code === '40001' || code === '40P01')) return retry(err);
    return this.#failed(err);
  }

  /**
   * Records `err` as the transaction's outcome, outside the (rolled back) transaction, unless an
   * outcome is recorded already: a racing execution's commit, or its failure, wins, and this
   * attempt returns that instead. A read-only transaction wrote nothing to race on.
   */
  async #failed(err: unknown): Promise<Attempt> {
    const error = encodeError(err);
    if (this.#call.readOnly) return { type: 'done', output: null, error };
    try {
      const { rowCount } = await this.#client.query(
        `INSERT INTO ${this.#schema}.transaction_outputs (workflow_id, step_id, name, error) VALUES ($1, $2, $3, $4)
         ON CONFLICT (workflow_id, step_id) DO NOTHING`,
        [this.#call.workflowId, this.#call.stepId, this.#call.name, error],
      );
      if (rowCount === 1) return { type: 'done', output: null, error };
      const found = await this.#lookup();
      return found ? this.#replayed(found) : retry(err);
    } catch (e) {
      if (e instanceof NonDeterminismError) throw e;
      await this.#rollback();
      return retry(e);
    }
  }

  async #lookup(): Promise<Recorded | undefined> {
    const { rows } = await this.#client.query<Recorded>(
      `SELECT name, output, error FROM ${this.#schema}.transaction_outputs WHERE workflow_id = $1 AND step_id = $2`,
      [this.#call.workflowId, this.#call.stepId],
    );
    return rows[0];
  }

  #replayed(found: Recorded): Attempt {
    const call = this.#call;
    if (found.name !== call.name) {
      throw new NonDeterminismError(
        `workflow ${call.workflowId}, step ${call.stepId}: transaction recorded as '${found.name}' ` +
          `but the code now calls '${call.name}'`,
      );
    }
    return { type: 'done', output: found.output, error: found.error };
  }

  /** Ends whatever transaction is open; a connection that cannot is marked broken. */
  async #rollback(): Promise<void> {
    if (this.#broken) return;
    try {
      await this.#client.query('ROLLBACK');
    } catch (err) {
      this.#broken = err instanceof Error ? err : new Error(String(err));
    }
  }
}

/** A statement failed inside the function, which caught its error or did not await it. */
function aborted(call: TransactionCall): SkeinError {
  return new SkeinError(
    `transaction '${call.name}' (step ${call.stepId}) was rolled back: a statement in it failed and the ` +
      `function caught the error (or did not await it) and returned, so nothing it wrote was committed`,
  );
}
