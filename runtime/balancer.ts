// Which thread gets the next workflow. Piscina marks a replacement thread ready before it has
// loaded anything, and its default balancer then prefers that idle, cold thread: the workflows
// of a crashed thread waited for a fresh import of the workflows module (~250 ms under tsx)
// while a warm thread sat idle. Here the least busy warm thread wins; a cold one is used only
// when no warm thread has a free slot.
import type { Piscina } from 'piscina';

type PiscinaLoadBalancer = NonNullable<
  NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']
>;

/** Posted by a worker on its parentPort once the workflows module is loaded. */
export interface WarmMessage {
  type: 'skein:warm';
  threadId: number;
}

export function isWarmMessage(msg: unknown): msg is WarmMessage {
  return typeof msg === 'object' && msg !== null && (msg as WarmMessage).type === 'skein:warm';
}

export function warmFirstBalancer(maximumUsage: number, warm: ReadonlySet<number>): PiscinaLoadBalancer {
  return (_task, workers) => {
    let best = null;
    let bestScore = Infinity;
    for (const worker of workers) {
      if (worker.terminating || worker.destroyed || worker.currentUsage >= maximumUsage) continue;
      const score = worker.currentUsage + (warm.has(worker.id) ? 0 : maximumUsage);
      if (score < bestScore) {
        best = worker;
        bestScore = score;
      }
    }
    return best;
  };
}
