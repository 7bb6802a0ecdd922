// `skein executor list`: the processes registered on this schema, alive or not.
import type { Command } from 'commander';
import type { ExecutorInfo } from '../../storage/executors.ts';
import { listCommand } from './context.ts';
import { when } from './format.ts';

export function executorCommands(program: Command): void {
  listCommand<ExecutorInfo>(
    program.command('executor').description('the processes that run workflows'),
    'every executor registered on this schema: alive while it holds its lock and heartbeats within its lease',
    (client) => client.listExecutors(),
    [
      { header: 'EXECUTOR', value: (e) => e.executorId, max: 48 },
      { header: 'ALIVE', value: (e) => (e.alive ? 'yes' : 'no') },
      { header: 'APP VERSION', value: (e) => e.appVersion, max: 32 },
      { header: 'HOST', value: (e) => e.host, max: 24 },
      { header: 'PID', value: (e) => String(e.pid), right: true },
      { header: 'STARTED (UTC)', value: (e) => when(e.startedAt) },
      { header: 'LAST SEEN (UTC)', value: (e) => when(e.lastSeenAt) },
    ],
    'no executor has registered on this schema',
  );
}
