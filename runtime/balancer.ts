// Thread slots and which thread gets the next workflow. A slot (`workflowsPerThread` per
// thread) is held by a workflow running code: a step's function, or workflow code between two
// awaits. A waiting workflow holds none (README, "Waiting and slots"), so piscina's own
// count of tasks per thread, which includes waiting ones, cannot be the limit: main keeps the
// count here, admits work only when a warm thread has a free slot, and names that thread to
// piscina's balancer.
//
// Warm first: piscina marks a replacement thread ready before it has loaded anything, and its
// default balancer then prefers that idle, cold thread; the workflows of a crashed thread
// waited for a fresh import of the workflows module (~250 ms under tsx) while a warm thread sat
// idle. Only threads that said they loaded the module are picked.
import type { Piscina } from 'piscina';

type AnyPiscina = Piscina<any, any>;

type PiscinaLoadBalancer = NonNullable<
  NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']
>;

export interface ThreadSlots {
  readonly id: number;
  /** slots held (or reserved by a dispatch on its way to this thread) */
  held: number;
  warm: boolean;
  /** deliveries to workflows waiting on this thread, run as its slots free (FIFO) */
  readonly wakeQueue: (() => void)[];
  /**
   * Kept for one workflow that must run alone (a suspect of earlier thread deaths): nothing else
   * is admitted to it, and it is draining until that workflow starts there.
   */
  reserved: boolean;
  /**
   * Slots held at the moment the thread died: 1 means its one code-runner was the culprit.
   * Set, it marks the thread dead until its record is dropped.
   */
  heldAtDeath?: number;
}

/** Not dead: a thread that died keeps its record until piscina removed it. */
function alive(t: ThreadSlots): boolean {
  return t.heldAtDeath === undefined;
}

/** Open to any workflow: alive and not kept for one. */
export function open(t: ThreadSlots): boolean {
  return alive(t) && !t.reserved;
}

/** Warm and open: where new work may be admitted. */
function usable(t: ThreadSlots): boolean {
  return t.warm && open(t);
}

export class Slots {
  readonly perThread: number;
  readonly #threads = new Map<number, ThreadSlots>();

  constructor(perThread: number) {
    this.perThread = perThread;
  }

  /** The record of thread `id` (created when first heard of). */
  thread(id: number): ThreadSlots {
    let t = this.#threads.get(id);
    if (!t) this.#threads.set(id, (t = { id, held: 0, warm: false, wakeQueue: [], reserved: false }));
    return t;
  }

  /** Threads ended: the records of those `gone` picks are dropped, so what they held no longer counts. */
  drop(gone: (id: number) => boolean): ThreadSlots[] {
    const dropped: ThreadSlots[] = [];
    for (const [id, t] of this.#threads) {
      if (!gone(id)) continue;
      this.#threads.delete(id);
      dropped.push(t);
    }
    return dropped;
  }

  has(t: ThreadSlots): boolean {
    return this.#threads.get(t.id) === t;
  }

  /** A thread of the pool that has not died. */
  live(t: ThreadSlots): boolean {
    return this.has(t) && alive(t);
  }

  free(t: ThreadSlots): boolean {
    return t.held < this.perThread;
  }

  /**
   * The warm, unreserved thread with the most free slots that `allow` accepts, or null when
   * every such slot is held.
   */
  pick(allow: (t: ThreadSlots) => boolean = () => true): ThreadSlots | null {
    let best: ThreadSlots | null = null;
    for (const t of this.#threads.values()) {
      if (usable(t) && t.held < this.perThread && (!best || t.held < best.held) && allow(t)) best = t;
    }
    return best;
  }

  /** Warm, unreserved threads. */
  usableCount(): number {
    let n = 0;
    for (const t of this.#threads.values()) if (usable(t)) n++;
    return n;
  }

  /** A warm, unreserved thread where no code runs, or null. */
  pickIdle(): ThreadSlots | null {
    for (const t of this.#threads.values()) if (usable(t) && t.held === 0) return t;
    return null;
  }

  /** Free slots on warm, unreserved threads. */
  freeTotal(): number {
    let n = 0;
    for (const t of this.#threads.values()) if (usable(t)) n += Math.max(0, this.perThread - t.held);
    return n;
  }

  /**
   * piscina's balancer, for its own tasks only (replays; runs go on the threads' lines): the
   * warm, unreserved thread with the fewest slots held, or none while `refusing()` (see
   * startMissingThreads).
   */
  balancer(maxTasks: number, refusing: () => boolean): PiscinaLoadBalancer {
    return (_task, workers) => {
      if (refusing()) return null;
      let best = null;
      let bestScore = Infinity;
      for (const worker of workers) {
        if (worker.terminating || worker.destroyed || worker.currentUsage >= maxTasks) continue;
        const t = this.#threads.get(worker.id);
        if (t?.reserved) continue;
        const score = (t?.held ?? 0) + (t?.warm ? 0 : this.perThread);
        if (score < bestScore) {
          best = worker;
          bestScore = score;
        }
      }
      return best;
    };
  }
}

/**
 * Starts threads until `pool` has `size` again. piscina stops replacing threads for good once a
 * thread fails before it is ready (its `workerFailsDuringBootstrap`: e.g. out of memory under
 * `resourceLimits` while it starts), but it starts a thread for a task no thread takes. So each
 * missing thread costs one empty task that the balancer refuses (`refuse(true)` while it is
 * submitted) and that is withdrawn at once, before any thread could run it.
 */
export function startMissingThreads(pool: AnyPiscina, size: number, refuse: (on: boolean) => void): void {
  for (let missing = size - pool.threads.length; missing > 0; missing--) {
    const withdraw = new AbortController();
    refuse(true);
    try {
      pool.run({}, { signal: withdraw.signal }).catch(() => {});
    } finally {
      refuse(false);
    }
    withdraw.abort();
  }
}
