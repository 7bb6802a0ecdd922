// Takeover of dead executors (README "Running many processes"). The live executors of one app
// version form a ring in ID order; each watches the next one by waiting for its advisory lock on
// its own registry session. The lock is granted the moment the watched executor's connection
// ends, so a SIGKILLed process is noticed in milliseconds, with no polling. The watcher then
// holds that lock while it takes the dead executor's PENDING work (row claims, exactly once
// whoever races), marks it taken over, and moves on to the next in the ring; so killing two of
// three in turn, or at once, still leaves one that takes both.
//
// Waits are short (lock_timeout) so the ring is re-read now and then: executors that joined
// are watched, and a watched executor whose heartbeat went stale (a frozen process, a host
// gone without closing TCP) has its session ended so its lock frees.
import { errorField, type Logger } from '../common/logger.ts';
import type { Pool } from '../storage/database.ts';
import { endSession, markTakenOver, nextInRing, verdict, type RegistrySession } from '../storage/executors.ts';
import { isTransient } from '../storage/pg-errors.ts';

export interface TakeoverDeps {
  pool: Pool;
  schema: string;
  executorId: string;
  appVersion: string;
  /** how long one lock wait lasts before the ring is read again */
  watchMs: number;
  /**
   * How long this process's own registry session must have been up before a free lock is
   * taken for a death: when every session dropped at once (a database restart, a crash of one
   * backend, which makes the server drop them all, a network blip here), the others need as
   * long to take their locks again.
   */
  settleMs: number;
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

async function watchWith(deps: TakeoverDeps, watchSession: () => Promise<RegistrySession>): Promise<void> {
  let refusedEnd = false;
  while (!deps.closing()) {
    try {
      const own = await deps.session();
      const session = await watchSession();
      if (deps.closing()) return;
      const next = await nextInRing(deps.pool, deps.schema, deps.executorId, deps.appVersion);
      if (!next) {
        await deps.pause(deps.watchMs);
        continue;
      }
      if (next.stale) {
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
      if (!(await session.waitLock(next.key, deps.watchMs))) continue;
      let pauseMs = 0;
      try {
        const v = await verdict(deps.pool, deps.schema, next.executorId);
        const unsettled = deps.settleMs - own.ageMs;
        if (v === 'dead' && unsettled > 0) {
          pauseMs = unsettled;
        } else if (v === 'dead') {
          deps.logger.info('skein: an executor died; taking over its pending workflows', { executor: next.executorId });
          await deps.takeOver(next.executorId);
          await markTakenOver(deps.pool, deps.schema, next.executorId);
        } else if (v !== 'ended') {
          pauseMs = Math.min(v.reconnectingForMs, deps.watchMs);
        }
      } finally {
        if (!session.lost) await session.unlock(next.key);
      }
      if (pauseMs > 0) await deps.pause(pauseMs);
    } catch (err) {
      if (deps.closing()) return;
      (isTransient(err) ? deps.logger.debug : deps.logger.warn)('skein: watching for dead executors failed; retrying', {
        error: errorField(err),
      });
      await deps.pause(1000);
    }
  }
}
