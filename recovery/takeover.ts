// Takeover of dead executors (README "Running many processes"). The live executors of one app
// version form a ring in ID order; each watches the next one by waiting for its advisory lock on
// a watch connection of its own. The lock is granted the moment the watched executor's registry
// connection ends, so a SIGKILLed process is noticed in milliseconds, with no polling. The
// watcher then holds that lock while it takes the dead executor's PENDING work (row claims,
// exactly once whoever races), marks it taken over, and moves on to the next in the ring; so
// killing two of three in turn, or at once, still leaves one that takes both.
//
// Waits are short (lock_timeout) so the ring is read again now and then: executors that joined
// are watched, and a watched executor whose heartbeat went stale (a frozen process, a host gone
// without closing TCP) has its session ended so its lock frees. Between waits, a sweep tries the
// locks of executors silent for two leases that the ring missed (their watcher has takeover off,
// was launching, or is stuck).
import { errorField, type Logger } from '../common/logger.ts';
import type { Pool } from '../storage/database.ts';
import { endSession, markTakenOver, nextInRing, unwatchedDead, verdict, type RegistrySession } from '../storage/executors.ts';
import { isTransient } from '../storage/pg-errors.ts';

export interface TakeoverDeps {
  pool: Pool;
  schema: string;
  executorId: string;
  appVersion: string;
  leaseMs: number;
  /** how long one lock wait lasts before the ring is read again */
  watchMs: number;
  /**
   * How long this process's own registry session must have been up before a free lock is
   * taken for a death: when every session dropped at once (a database restart, a crash of one
   * backend, which makes the server drop them all, a failover, a network blip here), the others
   * need as long to take their locks again.
   */
  settleMs: () => number;
  /** the live registry session (holding this executor's own lock), once there is one */
  session: () => Promise<RegistrySession>;
  /** a new connection to wait for locks on; it holds none of its own */
  openWatch: () => Promise<RegistrySession>;
  /** takes over the PENDING work of a dead executor; resolves once it is claimed */
  takeOver: (executorId: string) => Promise<void>;
  /** resolves after `ms`, or at once when closing */
  pause: (ms: number) => Promise<void>;
  closing: () => boolean;
  logger: Logger;
}

/** Runs the watch until closing. */
export async function watchRing(deps: TakeoverDeps): Promise<void> {
  let watch: RegistrySession | undefined;
  try {
    await watchWith(deps, async () => {
      if (!watch || watch.lost) {
        await watch?.close();
        watch = await deps.openWatch();
      }
      return watch;
    });
  } finally {
    await watch?.close();
  }
}

/** What to do with a lock of a watched executor just taken: ms to pause after, 0 for none. */
async function judge(deps: TakeoverDeps, own: RegistrySession, watch: RegistrySession, target: string): Promise<number> {
  const v = await verdict(deps.pool, deps.schema, target);
  if (v === 'ended') return 0;
  if (v !== 'dead') return Math.min(v.reconnectingForMs, deps.watchMs);
  const unsettled = deps.settleMs() - own.ageMs;
  if (own.lost || unsettled > 0) return Math.max(unsettled, 100);
  deps.logger.info('skein: an executor died; taking over its pending workflows', { executor: target });
  await deps.takeOver(target);
  // only while its lock is still held here: had the watch dropped, a relaunch may own it now
  if (!watch.lost) await markTakenOver(deps.pool, deps.schema, target);
  return 0;
}

async function watchWith(deps: TakeoverDeps, watchSession: () => Promise<RegistrySession>): Promise<void> {
  let refusedEnd = false;
  let failingSince: number | null = null;
  let warnedLong = false;
  let sweptAt = performance.now();
  while (!deps.closing()) {
    try {
      const own = await deps.session();
      const watch = await watchSession();
      if (deps.closing()) return;
      const next = await nextInRing(deps.pool, deps.schema, deps.executorId, deps.appVersion);
      failingSince = null;
      warnedLong = false;
      if (performance.now() - sweptAt > deps.leaseMs) {
        sweptAt = performance.now();
        await sweep(deps, own, watch);
      }
      if (!next) {
        await deps.pause(deps.watchMs);
        continue;
      }
      // When this executor's own heartbeat is as late, the database is what stalls (a lost
      // synchronous standby, a lock on the registry): ending sessions then kills the living.
      if (next.stale && next.ownSilentMs < deps.leaseMs / 2) {
        // frozen, or its host vanished and the server has not noticed: free its lock
        const ended = await endSession(deps.pool, deps.schema, next.executorId, next.backendPid).catch((err) => {
          if (!refusedEnd) deps.logger.warn('skein: could not end the session of an executor whose heartbeat stopped', {
            executor: next.executorId, error: errorField(err),
          });
          refusedEnd = true;
          return false;
        });
        if (ended) deps.logger.warn('skein: ended the session of an executor whose heartbeat stopped', { executor: next.executorId });
      }
      if (!(await watch.waitLock(next.key, deps.watchMs))) continue;
      let pauseMs = 0;
      try {
        pauseMs = await judge(deps, own, watch, next.executorId);
      } finally {
        if (!watch.lost) await watch.unlock(next.key);
      }
      if (pauseMs > 0) await deps.pause(pauseMs);
    } catch (err) {
      if (deps.closing()) return;
      failingSince ??= performance.now();
      // a watcher that cannot watch leaves its neighbour to the others' sweeps: say so, once
      const long: boolean = !warnedLong && performance.now() - failingSince > deps.leaseMs;
      warnedLong ||= long;
      (long || !isTransient(err) ? deps.logger.warn : deps.logger.debug)(
        long ? 'skein: watching for dead executors has failed for over a lease; retrying' : 'skein: watching for dead executors failed; retrying',
        { error: errorField(err) },
      );
      await deps.pause(1000);
    }
  }
}

/** Takes over the dead executors the ring missed, if their locks are free. */
async function sweep(deps: TakeoverDeps, own: RegistrySession, watch: RegistrySession): Promise<void> {
  for (const target of await unwatchedDead(deps.pool, deps.schema, deps.executorId, deps.appVersion)) {
    if (deps.closing() || !(await watch.tryLock(target.key))) continue;
    try {
      await judge(deps, own, watch, target.executorId);
    } finally {
      if (!watch.lost) await watch.unlock(target.key);
    }
  }
}
