// ctx.transaction's database side, on the worker thread that runs the workflow (the user's
// code runs here, so their transaction must too). One attempt: the user's function runs inside
// one Postgres transaction on a datasource, and its output is recorded in that same transaction
// under (workflow ID, step ID), so the user's writes and the record commit together or not at
// all. An attempt that finds the record (an earlier execution committed, then died before its
// checkpoint reached the system database) returns it and runs nothing: exactly once. The one
// place outside storage/ with SQL and pg (DESIGN.md, Layout); it never touches skein's system
// tables, only transaction_outputs.
import type { PoolClient } from 'pg';
import { encodeError, encodeValue } from '../common/codec.ts';
import { NonDeterminismError, SkeinError } from '../common/errors.ts';
import { isTransient } from '../common/transient.ts';
import type { IsolationLevel } from '../common/workflow.ts';
import { datasourcePool, transactionSchema } from './registry.ts';

export interface TransactionCall {
  workflowId: string;
  stepId: number;
  name: string;
  isolation: IsolationLevel;
  readOnly: boolean;
  datasource: string;
}

/** How one attempt ended: an outcome to checkpoint, or a failure of the moment to retry. */
export type Attempt =
  | { type: 'done'; output: Uint8Array | null; error: Uint8Array | null }
  | { type: 'retry'; cause: unknown };

/** Constant texts only: the isolation level was checked against these keys. */
const BEGIN: Record<IsolationLevel, string> = {
  'read committed': 'BEGIN ISOLATION LEVEL READ COMMITTED',
  'repeatable read': 'BEGIN ISOLATION LEVEL REPEATABLE READ',
  serializable: 'BEGIN ISOLATION LEVEL SERIALIZABLE',
};

/**
 * Test hook (the testing kit's crash points build on it): called after a transaction committed
 * and before its checkpoint is sent, the one moment a crash leaves a record only here.
 */
const AFTER_COMMIT = Symbol.for('skein.testing.afterTransactionCommit');
type AfterCommit = (at: { workflowId: string; stepId: number; name: string }) => unknown;

/** A failure worth another attempt: the database's moment (40001, 40P01, a lost connection). */
const retry = (cause: unknown): Attempt => ({ type: 'retry', cause });

/** A failure recorded as the transaction's outcome, like a step's error. */
const failed = (err: unknown): Attempt => ({ type: 'done', output: null, error: encodeError(err) });

const judge = (err: unknown): Attempt => (isTransient(err) ? retry(err) : failed(err));

/**
 * One attempt of transaction `call`. Never throws, except a NonDeterminismError when the record
 * found was made under another name (the code changed between the crash and this replay).
 */
export async function attemptTransaction<T>(call: TransactionCall, fn: (tx: PoolClient) => Promise<T>): Promise<Attempt> {
  let client: PoolClient;
  try {
    client = await (await datasourcePool(call.datasource)).connect();
  } catch (err) {
    return judge(err);
  }
  // a client whose connection may be mid-transaction or gone is destroyed, not reused
  let broken: unknown;
  const rollback = () => client.query('ROLLBACK').then(() => undefined, (e: unknown) => void (broken = e ?? true));
  try {
    return await run(client, call, fn, rollback);
  } catch (err) {
    // BEGIN, the lookup or COMMIT failed (the user's function and the record write are judged
    // in run()): a lost connection leaves the outcome of a COMMIT unknown, which the next
    // attempt settles by looking for the record
    if (err instanceof NonDeterminismError) throw err;
    await rollback();
    return judge(err);
  } finally {
    client.release(broken as Error | undefined);
  }
}

async function run<T>(client: PoolClient, call: TransactionCall, fn: (tx: PoolClient) => Promise<T>, rollback: () => Promise<void>): Promise<Attempt> {
  const schema = transactionSchema();
  await client.query(`${BEGIN[call.isolation]}${call.readOnly ? ' READ ONLY' : ''}`);
  // A read-only transaction writes nothing, so it records nothing here and running it again
  // costs nothing: its checkpoint alone records its output.
  if (!call.readOnly) {
    const found = await client.query<{ name: string; output: Uint8Array | null }>({
      name: 'skein.transaction.lookup',
      text: `SELECT name, output FROM ${schema}.transaction_outputs WHERE workflow_id = $1 AND step_id = $2`,
      values: [call.workflowId, call.stepId],
    });
    const row = found.rows[0];
    if (row) {
      await rollback();
      if (row.name !== call.name) {
        throw new NonDeterminismError(
          `workflow ${call.workflowId}, step ${call.stepId}: transaction recorded as '${row.name}' ` +
            `but the code now calls '${call.name}'`,
        );
      }
      return { type: 'done', output: row.output, error: null };
    }
  }
  let output: Uint8Array;
  try {
    // encoded inside the transaction: a result that cannot be stored rolls the writes back
    output = encodeValue(await fn(guarded(client, call)), `transaction '${call.name}' result`);
  } catch (err) {
    await rollback();
    return judge(err);
  }
  if (!call.readOnly) {
    try {
      await client.query({
        name: 'skein.transaction.record',
        text: `INSERT INTO ${schema}.transaction_outputs (workflow_id, step_id, name, output) VALUES ($1, $2, $3, $4)`,
        values: [call.workflowId, call.stepId, call.name, output],
      });
    } catch (err) {
      await rollback();
      const code = (err as { code?: unknown }).code;
      // another execution of this workflow committed this transaction first: the next attempt
      // finds its record and returns its output (these writes are rolled back)
      if (code === '23505') return retry(err);
      if (code === '25P02') return failed(aborted(call));
      return judge(err);
    }
  }
  const commit = await client.query('COMMIT');
  // Postgres answers COMMIT of an aborted transaction with ROLLBACK, not an error
  if ((commit as { command?: string }).command === 'ROLLBACK') return failed(aborted(call));
  const hook = (globalThis as Record<symbol, AfterCommit | undefined>)[AFTER_COMMIT];
  // committed: whatever the hook does, the outcome is this output
  if (hook) await Promise.resolve(hook({ workflowId: call.workflowId, stepId: call.stepId, name: call.name })).catch(() => {});
  return { type: 'done', output, error: null };
}

/**
 * The client as the user's function sees it: itself in every way (Drizzle, Kysely and Knex take
 * it as a node-postgres client) except `release`. Released by the function, the connection would
 * go back to this thread's pool mid-transaction and be handed to another workflow's
 * transaction; one workflow's mistake must not reach another.
 */
function guarded(client: PoolClient, call: TransactionCall): PoolClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'release') {
        return () => {
          throw new SkeinError(`transaction '${call.name}': tx.release() is skein's to call, after the commit`);
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A statement failed inside the function, which caught its error: nothing was committed. */
function aborted(call: TransactionCall): SkeinError {
  return new SkeinError(
    `transaction '${call.name}' (step ${call.stepId}) was rolled back: a statement in it failed and the ` +
      `function caught the error and returned, so nothing it wrote was committed`,
  );
}
