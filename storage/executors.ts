// The executor registry: who runs on this schema, and who is alive (README "Running many
// processes"). Each executor holds a session advisory lock keyed by its ID on a connection of
// its own, the registry session: the server drops the lock when that connection ends, so a
// process that dies (SIGKILL, OOM, a host that closes its sockets) is known dead at once. A
// host that vanishes without closing TCP is caught by the server's keepalives, set short on
// that session, and a frozen process by its heartbeat going stale past its lease.
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Pool } from './database.ts';
import { notifyChannel, wakeKey } from './messages.ts';

/** What a process says about itself when it registers. */
export interface ExecutorIdentity {
  executorId: string;
  appVersion: string;
  host: string;
  pid: number;
  leaseMs: number;
}

/** A row of listExecutors(). */
export interface ExecutorInfo {
  executorId: string;
  appVersion: string;
  host: string;
  pid: number;
  startedAt: Date;
  lastSeenAt: Date;
  /** holds its lock and heartbeat within its lease */
  alive: boolean;
}

/**
 * The advisory lock key of an executor: 64 bits of a hash of (schema, ID), so the executors of
 * two schemas on one database never meet, and a collision is as unlikely as one of 64 random
 * bits. (hashtext's 32 bits would make two of a few thousand IDs collide now and then.)
 */
export function lockKey(schema: string, executorId: string): string {
  const digest = createHash('sha256').update(`${schema}\u0000${executorId}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** The pg_locks row of an advisory lock on a bigint key: its halves are classid and objid. */
const HOLDER = `SELECT l.pid FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid::bigint = ((KEY >> 32) & 4294967295) AND l.objid::bigint = (KEY & 4294967295)`;

const holderOfKey = (key: string) => HOLDER.replaceAll('KEY', key);

/**
 * A dedicated connection for advisory locks. An executor has two: its registry session holds
 * its own lock and heartbeats; its watch waits for the next executor's lock and holds it while
 * taking over. Never one connection for both: every executor holding its own lock while
 * waiting for the next one's is a cycle, and Postgres's deadlock detector aborts one of the
 * waits each second or so. Calls run one at a time, in turn (pg 8 queues a query sent during
 * another but warns that pg 9 will not).
 */
export class RegistrySession {
  #lost = false;
  /** the session's work so far: each call runs after it, as one connection runs one at a time */
  #turn: Promise<unknown> = Promise.resolve();
  /** when it connected (performance.now()) */
  readonly #openedAt = performance.now();
  readonly #client: pg.Client;
  private constructor(client: pg.Client) {
    this.#client = client;
  }

  /** Runs `fn` once everything called before it on this session is done. */
  #inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#turn.then(fn, fn);
    this.#turn = run.catch(() => {});
    return run;
  }

  /**
   * Opens a session whose server gives up on a silent peer after about `leaseMs` (TCP
   * keepalives; ignored on Unix sockets, where a vanished peer cannot happen): not sooner, or
   * a network blip shorter than the lease would count as a death. A watch spends most of its
   * life blocked in a lock wait, when a backend reads nothing from its socket:
   * client_connection_check_interval (Postgres 14+) makes it look every 100 ms, so the locks
   * of a process killed mid-wait free within that, not when the wait times out (measured: up
   * to the whole wait, 2.5 s at the default lease, without it). Timeouts a role or database may
   * set (statement, idle session) are turned off here: they would end waits and sessions that
   * are meant to last. Heartbeats do not wait for a synchronous standby (a lost one stalls
   * commits everywhere, and every executor would look dead). `onLost` is called once when the
   * connection ends by anything but close().
   */
  static async open(
    url: string,
    opts: { connectTimeoutMs: number; leaseMs: number; name: string; onLost: (session: RegistrySession, err: Error) => void },
  ): Promise<RegistrySession> {
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      application_name: opts.name,
      keepAlive: true,
      keepAliveInitialDelayMillis: Math.max(1000, Math.floor(opts.leaseMs / 2)),
    });
    let session: RegistrySession | undefined;
    const lost = (err: Error) => {
      if (!session || session.#lost) return;
      session.#lost = true;
      opts.onLost(session, err);
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('the registry connection ended')));
    try {
      await client.connect();
      // idle + 3 intervals: about the lease
      const idle = Math.max(1, Math.ceil(opts.leaseMs / 2000));
      const interval = Math.max(1, Math.ceil(opts.leaseMs / 6000));
      const { rows } = await client.query<{ v: number }>(
        `SELECT set_config('tcp_keepalives_idle', $1, false), set_config('tcp_keepalives_interval', $2, false),
           set_config('tcp_keepalives_count', '3', false), set_config('statement_timeout', '0', false),
           set_config('synchronous_commit', 'local', false),
           current_setting('server_version_num')::int AS v`,
        [String(idle), String(interval)],
      );
      if (rows[0]!.v >= 140000) {
        await client.query(`SELECT set_config('idle_session_timeout', '0', false)`);
        // refused where the server cannot poll its sockets this way (Windows): waits then free
        // a dead process's locks when they time out, as before Postgres 14
        await client.query(`SELECT set_config('client_connection_check_interval', '100ms', false)`).catch(() => {});
      }
      session = new RegistrySession(client);
      return session;
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  }

  get lost(): boolean {
    return this.#lost;
  }

  /** how long it has been connected, ms */
  get ageMs(): number {
    return performance.now() - this.#openedAt;
  }

  tryLock(key: string): Promise<boolean> {
    return this.#inTurn(async () => {
      const { rows } = await this.#client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key]);
      return rows[0]!.ok;
    });
  }

  /** Waits up to `timeoutMs` for the lock: true once held, false when the wait timed out. */
  waitLock(key: string, timeoutMs: number): Promise<boolean> {
    return this.#inTurn(async () => {
      try {
        await this.#client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${timeoutMs}ms`]);
        await this.#client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
        return true;
      } catch (err) {
        if ((err as { code?: string }).code === '55P03') return false; // lock_not_available
        throw err;
      } finally {
        if (!this.#lost) await this.#client.query(`SELECT set_config('lock_timeout', '0', false)`).catch(() => {});
      }
    });
  }

  unlock(key: string): Promise<void> {
    return this.#inTurn(async () => void (await this.#client.query('SELECT pg_advisory_unlock($1::bigint)', [key])));
  }

  /** Records (or renews, after a relaunch or a lost session) this executor's row. */
  register(schema: string, me: ExecutorIdentity, fresh: boolean): Promise<void> {
    return this.#inTurn(() => this.#register(schema, me, fresh));
  }

  async #register(schema: string, me: ExecutorIdentity, fresh: boolean): Promise<void> {
    await this.#client.query(
      `INSERT INTO ${schema}.executors AS e (executor_id, app_version, host, pid, lock_key, backend_pid, lease_ms)
       VALUES ($1, $2, $3, $4, $5::bigint, pg_backend_pid(), $6)
       ON CONFLICT (executor_id) DO UPDATE SET app_version = $2, host = $3, pid = $4, lock_key = $5::bigint,
         backend_pid = pg_backend_pid(), lease_ms = $6, last_seen_at = now(), ended_at = NULL,
         started_at = CASE WHEN $7 THEN now() ELSE e.started_at END`,
      [me.executorId, me.appVersion, me.host, me.pid, lockKey(schema, me.executorId), me.leaseMs, fresh],
    );
    await this.#client.query('SELECT pg_notify($1, $2)', [notifyChannel(schema), wakeKey.executors]);
  }

  /**
   * Renews the row's last_seen_at. False when the row is no longer this session's (another
   * process registered the ID) or was taken over while this one was unreachable.
   */
  heartbeat(schema: string, executorId: string): Promise<boolean> {
    return this.#inTurn(async () => {
      const { rowCount } = await this.#client.query(
        `UPDATE ${schema}.executors SET last_seen_at = now()
         WHERE executor_id = $1 AND backend_pid = pg_backend_pid() AND ended_at IS NULL`,
        [executorId],
      );
      return rowCount === 1;
    });
  }

  /**
   * At a clean shutdown: marks this executor ended when it leaves no PENDING work, so nobody
   * needs to take it over and its row does not wait for a watcher forever (one whose work is
   * left stays open for the watchers).
   */
  endIfIdle(schema: string, executorId: string): Promise<void> {
    return this.#inTurn(async () => {
      await this.#client.query(
        `UPDATE ${schema}.executors SET ended_at = now()
         WHERE executor_id = $1 AND backend_pid = pg_backend_pid()
           AND NOT EXISTS (SELECT 1 FROM ${schema}.workflow_status WHERE status = 'PENDING' AND executor_id = $1)`,
        [executorId],
      );
    });
  }

  async close(): Promise<void> {
    this.#lost = true;
    await this.#client.end().catch(() => {});
  }
}

/** Who holds an executor's lock, and what its row says: for a launch that found it held. */
export interface LockHolder {
  /** the server process holding the lock now, if any */
  holderPid: number | null;
  /** that process's application_name ('skein watch': a watcher taking over) */
  holderName: string | null;
  /** `silentMs`: since its last heartbeat; `stale`: that is longer than its lease */
  row: { host: string; pid: number; backendPid: number; startedAt: Date; silentMs: number; stale: boolean } | null;
}

export async function lockHolder(pool: Pool, schema: string, executorId: string): Promise<LockHolder> {
  const key = lockKey(schema, executorId);
  const [held, rows] = await Promise.all([
    pool.query<{ pid: number; name: string | null }>(
      `SELECT h.pid, a.application_name AS name FROM (${holderOfKey('$1::bigint')}) h
       LEFT JOIN pg_stat_activity a ON a.pid = h.pid`,
      [key],
    ),
    pool.query<{ host: string; pid: number; backend_pid: number; started_at: Date; silent_ms: number; stale: boolean }>(
      `SELECT host, pid, backend_pid, started_at, extract(epoch FROM clock_timestamp() - last_seen_at)::float8 * 1000 AS silent_ms,
         last_seen_at < clock_timestamp() - make_interval(secs => lease_ms / 1000.0) AS stale
       FROM ${schema}.executors WHERE executor_id = $1`,
      [executorId],
    ),
  ]);
  const r = rows.rows[0];
  return {
    holderPid: held.rows[0]?.pid ?? null,
    holderName: held.rows[0]?.name ?? null,
    row: r ? { host: r.host, pid: r.pid, backendPid: r.backend_pid, startedAt: r.started_at, silentMs: r.silent_ms, stale: r.stale } : null,
  };
}

/**
 * Ends the registry session of a frozen executor (its heartbeat stale past its lease while it
 * still holds its lock), so that its lock frees. Needs the same role, or pg_signal_backend.
 */
export async function endSession(pool: Pool, schema: string, executorId: string, backendPid: number): Promise<boolean> {
  const { rows } = await pool.query<{ ended: boolean }>(
    `SELECT pg_terminate_backend(h.pid) AS ended FROM (${holderOfKey('$1::bigint')}) h WHERE h.pid = $2`,
    [lockKey(schema, executorId), backendPid],
  );
  return rows[0]?.ended ?? false;
}

export async function listExecutors(pool: Pool, schema: string): Promise<ExecutorInfo[]> {
  const { rows } = await pool.query<{
    executor_id: string; app_version: string; host: string; pid: number;
    started_at: Date; last_seen_at: Date; alive: boolean;
  }>(
    // pg_locks read once (it is a snapshot of the lock table, not an indexed relation)
    `WITH held AS MATERIALIZED (
       SELECT l.pid, l.classid::bigint AS hi, l.objid::bigint AS lo FROM pg_locks l
       WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
     SELECT e.executor_id, e.app_version, e.host, e.pid, e.started_at, e.last_seen_at,
       e.ended_at IS NULL AND e.last_seen_at >= now() - make_interval(secs => e.lease_ms / 1000.0)
         AND EXISTS (SELECT 1 FROM held h WHERE h.pid = e.backend_pid
           AND h.hi = ((e.lock_key >> 32) & 4294967295) AND h.lo = (e.lock_key & 4294967295)) AS alive
     FROM ${schema}.executors e ORDER BY e.started_at, e.executor_id`,
  );
  return rows.map((r) => ({
    executorId: r.executor_id,
    appVersion: r.app_version,
    host: r.host,
    pid: r.pid,
    startedAt: r.started_at,
    lastSeenAt: r.last_seen_at,
    alive: r.alive,
  }));
}

/** The executor a watcher watches: the next ID after its own among those of its version, wrapping. */
export interface RingNext {
  executorId: string;
  key: string;
  backendPid: number;
  /** its heartbeat is older than its lease */
  stale: boolean;
  /** since the watcher's own last heartbeat, ms: when it is as silent, the database is stalled */
  ownSilentMs: number;
}

export async function nextInRing(pool: Pool, schema: string, executorId: string, appVersion: string): Promise<RingNext | null> {
  const { rows } = await pool.query<{ executor_id: string; key: string; backend_pid: number; stale: boolean; own_silent_ms: number | null }>(
    `SELECT executor_id, lock_key::text AS key, backend_pid,
       last_seen_at < now() - make_interval(secs => lease_ms / 1000.0) AS stale,
       (SELECT extract(epoch FROM now() - o.last_seen_at)::float8 * 1000 FROM ${schema}.executors o WHERE o.executor_id = $1)
         AS own_silent_ms
     FROM ${schema}.executors
     WHERE app_version = $2 AND ended_at IS NULL AND executor_id <> $1
     ORDER BY executor_id < $1, executor_id LIMIT 1`,
    [executorId, appVersion],
  );
  const r = rows[0];
  return r
    ? {
        executorId: r.executor_id, key: r.key, backendPid: r.backend_pid,
        stale: r.stale, ownSilentMs: r.own_silent_ms ?? 0,
      }
    : null;
}

/**
 * Executors of this version silent for two leases and not taken over: those the ring missed
 * (their watcher has takeover off, was still launching, or is stuck). The sweep tries their
 * locks; a held one is alive (or frozen, which its watcher handles).
 */
export async function unwatchedDead(pool: Pool, schema: string, executorId: string, appVersion: string): Promise<{ executorId: string; key: string }[]> {
  const { rows } = await pool.query<{ executor_id: string; key: string }>(
    `SELECT executor_id, lock_key::text AS key FROM ${schema}.executors
     WHERE app_version = $2 AND ended_at IS NULL AND executor_id <> $1
       AND last_seen_at < now() - make_interval(secs => 2 * lease_ms / 1000.0)
     ORDER BY last_seen_at LIMIT 10`,
    [executorId, appVersion],
  );
  return rows.map((r) => ({ executorId: r.executor_id, key: r.key }));
}

/**
 * What a watcher holding a watched executor's lock should do. `reconnecting`: its last
 * heartbeat predates the server's start (a database restart dropped every session), and the
 * server has been up for less than its lease: it may be reconnecting rather than dead.
 */
export async function verdict(pool: Pool, schema: string, executorId: string): Promise<'dead' | 'ended' | { reconnectingForMs: number }> {
  const { rows } = await pool.query<{ ended: boolean; since_restart: boolean; reconnecting_ms: number }>(
    `SELECT ended_at IS NOT NULL AS ended, last_seen_at < pg_postmaster_start_time() AS since_restart,
       greatest(0, extract(epoch FROM pg_postmaster_start_time() + make_interval(secs => lease_ms / 1000.0) - now()) * 1000)::float8
         AS reconnecting_ms
     FROM ${schema}.executors WHERE executor_id = $1`,
    [executorId],
  );
  const r = rows[0];
  if (!r || r.ended) return 'ended';
  if (r.since_restart && r.reconnecting_ms > 0) return { reconnectingForMs: r.reconnecting_ms };
  return 'dead';
}

/**
 * Marks a dead executor taken over (after its work was), so the ring skips it; rows taken over
 * a week ago are dropped. Called while holding its lock, so no relaunch can be in between.
 */
export async function markTakenOver(pool: Pool, schema: string, executorId: string): Promise<void> {
  await pool.query(
    `WITH old AS (DELETE FROM ${schema}.executors WHERE ended_at < now() - interval '7 days')
     UPDATE ${schema}.executors SET ended_at = now() WHERE executor_id = $1 AND ended_at IS NULL`,
    [executorId],
  );
}
