// This process's place in the executor registry (storage/executors.ts): it registers at launch
// (refusing an executorId a live process holds), heartbeats, keeps its registry session (a
// lost one is reopened and the lock taken again), and, with takeover on, watches the ring for
// dead executors (recovery/takeover.ts).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../common/errors.ts';
import { errorField, type Logger } from '../common/logger.ts';
import type { Pool } from '../storage/database.ts';
import { endSession, lockHolder, lockKey, RegistrySession, type ExecutorIdentity } from '../storage/executors.ts';
import { watchRing } from '../recovery/takeover.ts';

/** Default of `takeover.leaseMs` (README, Configuration). */
export const DEFAULT_LEASE_MS = 10_000;

/**
 * A default executorId: unique per process (host, pid and random bits), so that two replicas
 * never share one and each one's PENDING work is taken over, not waited for, when it dies.
 */
export function defaultExecutorId(): string {
  const host = hostname().replace(/[^A-Za-z0-9.-]/g, '').slice(0, 63) || 'host';
  return `${host}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export interface RegistryDeps {
  url: string;
  pool: Pool;
  schema: string;
  me: ExecutorIdentity;
  connectTimeoutMs: number;
  /** watch the ring and take over dead executors */
  takeover: boolean;
  takeOver: (executorId: string) => Promise<void>;
  logger: Logger;
}

/** The longest pause between two attempts to reopen a lost registry session. */
const MAX_REOPEN_PAUSE_MS = 1000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ExecutorRegistry {
  readonly #deps: RegistryDeps;
  readonly #key: string;
  #session!: RegistrySession;
  /** resolves with a live session; replaced while one is being reopened */
  #live!: Promise<RegistrySession>;
  #closed = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = false;
  #watch: Promise<void> | undefined;
  /** the registry session was lost and reopened at least once */
  #reopened = false;
  /** stops the watch (shutdown begins); the registry session stays until close() */
  #watching = true;
  /** the watch's connection: closed at close() to end a lock wait at once */
  #watchSession: RegistrySession | undefined;
  readonly #pauses = new Set<() => void>();

  private constructor(deps: RegistryDeps) {
    this.#deps = deps;
    this.#key = lockKey(deps.schema, deps.me.executorId);
  }

  /**
   * Takes this executor's lock and records it. The lock held by a live process with this ID is
   * a ConfigError naming it; one whose heartbeat stopped past its lease has its session ended
   * (it froze, or its host vanished); one held briefly by a watcher taking over is waited for.
   */
  static async register(deps: RegistryDeps): Promise<ExecutorRegistry> {
    const registry = new ExecutorRegistry(deps);
    const session = await registry.#open(true);
    registry.#session = session;
    registry.#live = Promise.resolve(session);
    // from now on: a launch slower than the lease (a slow module, a long recovery) must not
    // look like a dead process to the others
    registry.#heartbeat = setInterval(() => void registry.#beat(), Math.max(250, Math.floor(deps.me.leaseMs / 4)));
    registry.#heartbeat.unref();
    return registry;
  }

  /**
   * With takeover on, starts watching for dead executors. `onJoin` subscribes to registrations
   * elsewhere, so a watcher with nobody to watch looks again at once.
   */
  start(onJoin: (wake: () => void) => void): void {
    const { me } = this.#deps;
    if (!this.#deps.takeover) return;
    onJoin(() => {
      for (const wake of this.#pauses) wake();
    });
    this.#watch = watchRing({
      pool: this.#deps.pool,
      schema: this.#deps.schema,
      executorId: me.executorId,
      appVersion: me.appVersion,
      leaseMs: me.leaseMs,
      watchMs: Math.max(250, Math.floor(me.leaseMs / 4)),
      // At launch: reconnects back off up to MAX_REOPEN_PAUSE_MS, and twice that covers a
      // process that was just then between two attempts. After this process's own session
      // was lost and reopened (a restart, a crash of the server's backends, a failover, a
      // blip): others may take longer to get back, so a whole lease.
      settleMs: () => (this.#reopened ? me.leaseMs : Math.min(me.leaseMs, 2 * MAX_REOPEN_PAUSE_MS + 1000)),
      session: () => this.#live,
      openWatch: async () => {
        const watch = await RegistrySession.open(this.#deps.url, {
          connectTimeoutMs: this.#deps.connectTimeoutMs,
          leaseMs: me.leaseMs,
          name: 'skein watch',
          onLost: () => {},
        });
        this.#watchSession = watch;
        if (this.#closed) await watch.close();
        return watch;
      },
      takeOver: this.#deps.takeOver,
      pause: (ms) => this.#pause(ms),
      closing: () => this.#closed || !this.#watching,
      logger: this.#deps.logger,
    });
  }

  /**
   * At the start of a shutdown: takes over nobody more (this process is about to stop) and
   * frees the lock of whoever it was watching, so another watcher can have it.
   */
  async stopWatching(): Promise<void> {
    this.#watching = false;
    for (const wake of this.#pauses) wake();
    await this.#watchSession?.close();
    await this.#watch;
  }

  /**
   * Ends the session, which frees the lock: a live executor then takes over what is left. An
   * executor that leaves nothing PENDING is marked ended first, so none has to.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    for (const wake of this.#pauses) wake();
    if (!this.#session.lost) {
      await this.#session.endIfIdle(this.#deps.schema, this.#deps.me.executorId).catch((err) =>
        this.#deps.logger.debug('skein: could not mark this executor ended', { error: errorField(err) }),
      );
    }
    await Promise.all([this.#session.close(), this.#watchSession?.close()]);
    await this.#watch;
    // a reopen under way gives up at its next step; its connection is closed there
    await this.#live.catch(() => {});
  }

  async #open(fresh: boolean): Promise<RegistrySession> {
    const { url, pool, schema, me, connectTimeoutMs, logger } = this.#deps;
    const session = await RegistrySession.open(url, {
      connectTimeoutMs,
      leaseMs: me.leaseMs,
      name: 'skein registry',
      // only the session in use: one lost while being opened fails that open instead
      onLost: (lost, err) => lost === this.#session && this.#lost(err),
    });
    try {
      const startedAt = performance.now();
      while (!(await session.tryLock(this.#key))) {
        if (this.#closed) throw new Error('the registry is closed');
        const { holderPid, holderName, row } = await lockHolder(pool, schema, me.executorId);
        // a watcher holds it while it takes over this ID's last run: wait for it, longer
        const giveUpAt = startedAt + (holderName === 'skein watch' ? 3 : 1) * me.leaseMs;
        const owner = holderPid !== null && row !== null && holderPid === row.backendPid;
        // A live holder heartbeats every quarter lease. One silent for over half of it is
        // likely gone (its host vanished without closing TCP): wait for its lease to run out.
        const fading = owner && row.silentMs > me.leaseMs / 2 && performance.now() < giveUpAt + me.leaseMs;
        // reopening, and the holder is this process's own lost session, which the server has
        // not noticed yet (a one-way network failure): end it rather than wait out the lease
        const ours = !fresh && owner && row.pid === me.pid && row.host === me.host;
        if (ours && (await endSession(pool, schema, me.executorId, row.backendPid))) {
          logger.warn("skein: ended this process's own lost registry session, still holding its lock");
          await sleep(50); // it exits, and its lock frees, a moment after the signal
          continue;
        }
        if (owner && !row.stale && !fading) {
          throw new ConfigError(
            `executorId '${me.executorId}' is in use by a live process (pid ${row.pid} on host ${row.host}, ` +
              `launched ${row.startedAt.toISOString()}): two live processes never share one. ` +
              'Give this one another executorId, or leave it unset for one unique to this process',
          );
        }
        if (owner && row.stale) {
          // its heartbeat stopped past its lease while its session lives on
          if (await endSession(pool, schema, me.executorId, row.backendPid)) {
            logger.warn('skein: ended the registry session of a stale process with this executorId', { pid: row.pid, host: row.host });
          }
        }
        if (!fading && performance.now() > giveUpAt) {
          throw new ConfigError(
            `executorId '${me.executorId}': its lock is held by database session ${holderPid ?? '(none)'} ` +
              `(${holderName ?? 'unknown'}) and was not released within ${Math.round(performance.now() - startedAt)} ms`,
          );
        }
        await sleep(100);
      }
      await session.register(schema, me, fresh);
      return session;
    } catch (err) {
      await session.close();
      throw err;
    }
  }

  #lost(err: Error): void {
    if (this.#closed) return;
    this.#deps.logger.warn('skein: the registry connection was lost; reopening it (until then, dead executors are not taken over)', {
      error: errorField(err),
    });
    this.#live = this.#reopen();
    this.#live.catch(() => {}); // waited on by the watch, which stops when closed
  }

  async #reopen(): Promise<RegistrySession> {
    for (let pause = 100; ; pause = Math.min(pause * 2, MAX_REOPEN_PAUSE_MS)) {
      if (this.#closed) throw new Error('the registry is closed');
      try {
        const session = await this.#open(false);
        if (this.#closed) {
          await session.close();
          throw new Error('the registry is closed');
        }
        this.#session = session;
        this.#reopened = true;
        this.#deps.logger.info('skein: the registry connection is back');
        return session;
      } catch (err) {
        if (err instanceof ConfigError) this.#deps.logger.error(`skein: ${err.message}`);
        else this.#deps.logger.debug('skein: reopening the registry connection failed; retrying', { error: errorField(err) });
        await this.#pause(pause);
      }
    }
  }

  async #beat(): Promise<void> {
    if (this.#beating || this.#closed || this.#session.lost) return;
    this.#beating = true;
    try {
      if (!(await this.#session.heartbeat(this.#deps.schema, this.#deps.me.executorId))) {
        // taken over while it could not reach the database (frozen, cut off): its PENDING work
        // belongs to others now, and their runs win every checkpoint race; it goes on as itself
        this.#deps.logger.warn('skein: this executor was taken over while it was unreachable; registering again');
        await this.#session.register(this.#deps.schema, this.#deps.me, false);
      }
    } catch (err) {
      if (!this.#closed) this.#deps.logger.debug('skein: a registry heartbeat failed', { error: errorField(err) });
    } finally {
      this.#beating = false;
    }
  }

  #pause(ms: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#pauses.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#pauses.add(wake);
    });
  }
}
