// Group-commit writer. Callers submit units (one or more writes that must commit together) and
// get a promise. When no flush is in flight the writer flushes at once (after the current tick,
// so writes made together share it); otherwise everything that arrives meanwhile goes into the
// next flush. No timer: an idle system pays one commit of latency, a loaded one shares each
// commit among everything that queued behind it.
//
// A flush is one statement (write-ops.ts): a multi-row CTE per kind of write, committed as a
// whole. Only when the batch holds a unit of several writes that includes a step does it run
// in an explicit transaction, so that unit can be rolled back if its step lost a race. If a
// flush fails, its units are retried one by one, so one bad unit cannot fail its neighbours.
import { ConflictError } from '../threads/errors.ts';
import type { Pool, PoolClient } from './database.ts';
import { applyOps, type WriteOp } from './write-ops.ts';

interface Unit {
  ops: WriteOp[];
  resolve: (outcome: boolean[]) => void;
  reject: (err: unknown) => void;
}

export interface WriterStats {
  /** transactions committed or attempted, per-unit retries included */
  transactions: number;
  /** flushes: batches taken off the queue */
  flushes: number;
  units: number;
  /** writes (rows) submitted */
  rows: number;
}

/**
 * Flushes in flight at once. Two (on two connections, overlapping their commits) measured
 * worse on 2 cores, bench --quick: 1,396 vs 1,774 concurrent workflows/s, 352 vs 395 awaited
 * starts/s. fsync is not the limit here (about 3,100 single-row commits/s); CPU is, and
 * smaller batches on two busy backends cost more of it.
 */
const MAX_IN_FLIGHT = 1;

export class GroupCommitWriter {
  readonly #pool: Pool;
  readonly #schema: string;
  #queue: Unit[] = [];
  /** flushers running; see #drain for why it is a counter updated in step with the queue */
  #flushers = 0;
  #idle: (() => void)[] = [];
  readonly #stats: WriterStats = { transactions: 0, flushes: 0, units: 0, rows: 0 };

  constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.#schema = schema;
  }

  /**
   * Commits `ops` atomically, batched with whatever else is waiting. Resolves with each op's
   * outcome (true: written; false: already done by someone else). Rejects with ConflictError
   * when a step was already recorded, in which case none of the unit's writes took effect.
   */
  write(ops: WriteOp[]): Promise<boolean[]> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ ops, resolve, reject });
      this.#stats.units++;
      this.#stats.rows += ops.length;
      if (this.#flushers < MAX_IN_FLIGHT) {
        this.#flushers++;
        void this.#drain();
      }
    });
  }

  stats(): WriterStats {
    return { ...this.#stats };
  }

  /** Resolves when everything submitted so far has been flushed. */
  async idle(): Promise<void> {
    while (this.#flushers > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    try {
      // started synchronously by write(): let the caller's other writes of this tick join
      await Promise.resolve();
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        this.#stats.flushes++;
        await this.#flush(batch);
      }
    } finally {
      // In the same turn as the loop's last look at the queue: a write from here on starts a
      // flusher of its own. (Counted down a microtask later, in a .finally of this promise, a
      // write landing in between saw a flusher running, started none, and waited forever:
      // regression test 'writes awaited one after another never stall'.)
      this.#flushers--;
      if (this.#flushers === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #flush(batch: Unit[]): Promise<void> {
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      for (const unit of batch) unit.reject(err);
      return;
    }
    let broken: Error | undefined;
    try {
      if (batch.length === 1) {
        await this.#commitUnit(client, batch[0]!);
        return;
      }
      const settle = await this.#commitBatch(client, batch);
      if (settle) settle();
      else for (const unit of batch) await this.#commitUnit(client, unit);
    } catch (err) {
      broken = err as Error;
      for (const unit of batch) unit.reject(err);
    } finally {
      client.release(broken);
    }
  }

  /**
   * Tries the whole batch at once. Returns a function that settles every unit, or null when
   * the batch must be redone unit by unit: it failed, or a unit of several writes lost a race
   * on its step (its other writes must not stand).
   */
  async #commitBatch(client: PoolClient, batch: Unit[]): Promise<(() => void) | null> {
    this.#stats.transactions++;
    const guarded = batch.some((u) => needsTransaction(u.ops));
    let outcome: boolean[];
    try {
      if (guarded) await client.query('BEGIN');
      outcome = await applyOps(client, this.#schema, batch.flatMap((u) => u.ops));
    } catch {
      if (guarded) await client.query('ROLLBACK');
      return null;
    }
    let offset = 0;
    const results = batch.map((unit) => {
      const slice = outcome.slice(offset, (offset += unit.ops.length));
      return { unit, slice, conflict: lostStep(unit.ops, slice) };
    });
    if (guarded) {
      if (results.some((r) => r.conflict && r.unit.ops.length > 1)) {
        await client.query('ROLLBACK');
        return null;
      }
      await client.query('COMMIT');
    }
    return () => {
      for (const { unit, slice, conflict } of results) {
        if (conflict) unit.reject(conflict);
        else unit.resolve(slice);
      }
    };
  }

  async #commitUnit(client: PoolClient, unit: Unit): Promise<void> {
    this.#stats.transactions++;
    const guarded = needsTransaction(unit.ops);
    try {
      if (guarded) await client.query('BEGIN');
      const outcome = await applyOps(client, this.#schema, unit.ops);
      const conflict = lostStep(unit.ops, outcome);
      if (guarded) await client.query(conflict ? 'ROLLBACK' : 'COMMIT');
      if (conflict) unit.reject(conflict);
      else unit.resolve(outcome);
    } catch (err) {
      // A dead connection throws again here and propagates, so the caller releases the client
      // as broken.
      if (guarded) await client.query('ROLLBACK');
      unit.reject(err);
    }
  }
}

/** A unit whose writes must all be undone if its step turns out to be recorded already. */
function needsTransaction(ops: WriteOp[]): boolean {
  return ops.length > 1 && ops.some((op) => op.kind === 'recordStep');
}

function lostStep(ops: WriteOp[], outcome: boolean[]): ConflictError | null {
  const i = ops.findIndex((op, j) => op.kind === 'recordStep' && !outcome[j]);
  if (i < 0) return null;
  const step = ops[i]!.row as { workflowId: string; stepId: number };
  return new ConflictError(
    `step ${step.stepId} of workflow ${step.workflowId} was already recorded by another execution`,
  );
}
