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
//
// Flushes are bounded in bytes as well: a unit carrying a large payload goes alone, in a lane
// of its own, so the small writes of every other workflow neither share its statement nor wait
// for it.
import { ConflictError } from '../common/errors.ts';
import { defaultLogger, errorField, type Logger } from '../common/logger.ts';
import type { Pool, PoolClient } from './database.ts';
import { answered, fromServer, isConstraint, isServerGoodbye, skeinError } from './pg-errors.ts';
import { applyOps, type WriteOp } from './write-ops.ts';

interface Unit {
  ops: WriteOp[];
  /** payload bytes it carries (see unitBytes) */
  bytes: number;
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
  /** flushes that failed as a whole and were redone unit by unit */
  failedFlushes: number;
}

/**
 * Flushes in flight at once, per lane. Two (on two connections, overlapping their commits)
 * measured worse on 2 cores, bench --quick: 1,396 vs 1,774 concurrent workflows/s, 352 vs 395
 * awaited starts/s. fsync is not the limit here (about 3,100 single-row commits/s); CPU is, and
 * smaller batches on two busy backends cost more of it.
 */
const MAX_IN_FLIGHT = 1;

/**
 * Payload bytes one flush of small units may carry: a flush's statement is built in memory as
 * a whole, and everything in it waits for all of it. (When arrays went as text, a bytea array
 * was one hex string, and V8 caps a string near 512 MiB: a burst of forty 10 MB step results
 * batched into one flush once failed every workflow of the process.)
 */
const FLUSH_BYTES = 8 * 1024 * 1024;

/**
 * A unit above this many payload bytes goes alone, in a lane of its own: small writes keep their
 * group commit and wait behind no large one. One 10 MB step result takes about 60 ms to send
 * and commit here; batched with small units, every one of them would wait that long.
 */
const LARGE_UNIT_BYTES = 1024 * 1024;

/**
 * Units one flush takes at most. The main thread builds the statement and then runs every
 * caller's continuation in one turn: a burst of 20,000 starts once went into one flush, and
 * the event loop stalled 300-600 ms building it and resuming its callers. At 500 the turn
 * stays near 10 ms, and a flush still shares one commit among hundreds of writes.
 */
const FLUSH_UNITS = 500;

/** One queue of units and the flusher that drains it. */
interface Lane {
  queue: Unit[];
  /** flushers running; see #drain for why it is a counter updated in step with the queue */
  flushers: number;
  /** most payload bytes a flush of this lane takes (the first unit always goes) */
  budget: number;
}

export class GroupCommitWriter {
  readonly #pool: Pool;
  readonly #schema: string;
  readonly #logger: Logger;
  readonly #small: Lane = { queue: [], flushers: 0, budget: FLUSH_BYTES };
  readonly #large: Lane = { queue: [], flushers: 0, budget: 0 };
  #idle: (() => void)[] = [];
  readonly #stats: WriterStats = { transactions: 0, flushes: 0, units: 0, rows: 0, failedFlushes: 0 };
  /** told the units of each flush (metrics' batch sizes) */
  onFlush: ((units: number) => void) | null = null;

  constructor(pool: Pool, schema: string, logger: Logger = defaultLogger()) {
    this.#pool = pool;
    this.#schema = schema;
    this.#logger = logger;
  }

  /**
   * Commits `ops` atomically, batched with whatever else is waiting. Resolves with each op's
   * outcome (true: written; false: already done by someone else). Rejects with ConflictError
   * when a step was already recorded, in which case none of the unit's writes took effect.
   */
  write(ops: WriteOp[]): Promise<boolean[]> {
    return new Promise((resolve, reject) => {
      const bytes = unitBytes(ops);
      const lane = bytes > LARGE_UNIT_BYTES ? this.#large : this.#small;
      lane.queue.push({ ops, bytes, resolve, reject });
      this.#stats.units++;
      this.#stats.rows += ops.length;
      if (lane.flushers < MAX_IN_FLIGHT) {
        lane.flushers++;
        void this.#drain(lane);
      }
    });
  }

  stats(): WriterStats {
    return { ...this.#stats };
  }

  /** Resolves when everything submitted so far has been flushed. */
  async idle(): Promise<void> {
    while (this.#small.flushers + this.#large.flushers > 0) {
      await new Promise<void>((resolve) => this.#idle.push(resolve));
    }
  }

  async #drain(lane: Lane): Promise<void> {
    try {
      // started synchronously by write(): let the caller's other writes of this tick join
      await Promise.resolve();
      while (lane.queue.length > 0) {
        const batch = take(lane);
        this.#stats.flushes++;
        this.onFlush?.(batch.length);
        await this.#flush(batch);
      }
    } finally {
      // In the same turn as the loop's last look at the queue: a write from here on starts a
      // flusher of its own. (Counted down a microtask later, in a .finally of this promise, a
      // write landing in between saw a flusher running, started none, and waited forever:
      // regression test 'writes awaited one after another never stall'.)
      lane.flushers--;
      if (this.#small.flushers + this.#large.flushers === 0) for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #flush(batch: Unit[]): Promise<void> {
    if (batch.length > 1) {
      let settle: (() => void) | null = null;
      try {
        settle = await this.#session((client) => this.#commitBatch(client, batch));
      } catch (err) {
        // Nothing sent, or the connection lost with the statement in flight: it may have
        // committed, so redoing it could apply a write twice (a message delivered twice, a start
        // that finds its own row and does not run). Its units fail; their callers recover.
        if (err instanceof ConnectFailure || !answered(err)) {
          const reason = err instanceof ConnectFailure ? err.original : err;
          for (const unit of batch) unit.reject(reason);
          return;
        }
        this.#stats.failedFlushes++;
        this.#logger.warn('skein: a flush failed; its writes are redone one by one', { writes: batch.length, error: errorField(err) });
      }
      if (settle) return settle();
    }
    // One by one, each on a sound connection: one bad unit fails alone.
    for (const unit of batch) {
      try {
        await this.#session((client) => this.#commitUnit(client, unit));
      } catch (err) {
        if (err instanceof ConnectFailure) unit.reject(err.original);
        else {
          const kinds = unit.ops.map((o) => o.kind).join(', ');
          // a constraint (a dedup ID held, say) is an answer its caller handles, and a server
          // going down (a restart) is retried by it: neither needs a line of its own
          if (!isConstraint(err) && !isServerGoodbye(err)) this.#logger.warn('skein: a write failed', { kinds, error: errorField(err) });
          const inserted = unit.ops.find((o) => o.kind === 'insertWorkflow')?.row;
          unit.reject(skeinError(err, { kinds, dedup: inserted && { dedupId: inserted.dedupId, queue: inserted.queue } }));
        }
      }
    }
  }

  /**
   * Runs `fn` on a pooled connection. A connection on which anything failed is discarded, not
   * reused: an error thrown while the driver built a message (a value it could not encode) can
   * leave it believing the server holds a prepared statement that the server dropped, and
   * every later flush on it failed with "prepared statement ... does not exist".
   */
  async #session<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw new ConnectFailure(err);
    }
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      // An error the server sent (a constraint, say) leaves the connection sound; keep it.
      if (!fromServer(err)) broken = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /**
   * Tries the whole batch at once. Returns a function that settles every unit, or null when
   * a unit of several writes lost a race on its step (its other writes must not stand) and the
   * batch must be redone unit by unit. Throws if the statement failed.
   */
  async #commitBatch(client: PoolClient, batch: Unit[]): Promise<(() => void) | null> {
    this.#stats.transactions++;
    const guarded = batch.some((u) => needsTransaction(u.ops));
    let outcome: boolean[];
    try {
      if (guarded) await client.query('BEGIN');
      outcome = await applyOps(client, this.#schema, batch.flatMap((u) => u.ops));
    } catch (err) {
      // a ROLLBACK that fails throws its own error: the connection is then not kept
      if (guarded) await client.query('ROLLBACK');
      throw err;
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

  /** Commits one unit; a lost step settles it with ConflictError. Throws if a statement failed. */
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
      if (guarded) await client.query('ROLLBACK');
      throw err;
    }
  }
}

/** The pool could not give a connection: nothing was sent, and nothing of the batch can be. */
class ConnectFailure extends Error {
  constructor(readonly original: unknown) {
    super(String(original));
  }
}

/** Units off the front of `lane`'s queue, up to its byte budget and FLUSH_UNITS (the first one always). */
function take(lane: Lane): Unit[] {
  const q = lane.queue;
  let bytes = q[0]!.bytes;
  let n = 1;
  while (n < q.length && n < FLUSH_UNITS && bytes + q[n]!.bytes <= lane.budget) bytes += q[n++]!.bytes;
  if (n === q.length) {
    lane.queue = [];
    return q;
  }
  return q.splice(0, n);
}

/** The payload bytes of a unit's writes: what makes its statement large. */
function unitBytes(ops: WriteOp[]): number {
  let n = 0;
  for (const op of ops) {
    const r = op.row as { input?: Uint8Array | null; output?: Uint8Array | null; error?: Uint8Array | null; message?: Uint8Array; value?: Uint8Array };
    n += (r.input?.length ?? 0) + (r.output?.length ?? 0) + (r.error?.length ?? 0) + (r.message?.length ?? 0) + (r.value?.length ?? 0);
  }
  return n;
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
