// `skein queue list`: the depth of every queue with work, across all processes.
import type { Command } from 'commander';
import type { QueueSummary } from '../../storage/queue-summary.ts';
import { listCommand } from './context.ts';

export function queueCommands(program: Command): void {
  const byExecutor = (q: QueueSummary) => Object.entries(q.runningByExecutor).map(([e, n]) => `${e}: ${n}`).join(', ') || '-';
  listCommand<QueueSummary>(
    program.command('queue').description('queues: what waits and what runs'),
    'every queue with workflows waiting or running: due now, delayed, running, and running by executor',
    (client) => client.listQueues(),
    [
      { header: 'QUEUE', value: (q) => q.queue, max: 40 },
      { header: 'ENQUEUED', value: (q) => String(q.enqueued), right: true },
      { header: 'DELAYED', value: (q) => String(q.delayed), right: true },
      { header: 'RUNNING', value: (q) => String(q.running), right: true },
      { header: 'RUNNING BY EXECUTOR', value: byExecutor, max: 80 },
    ],
    'no workflows waiting or running in any queue',
  );
}
