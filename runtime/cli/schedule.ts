// `skein schedule ...`: the dynamic schedules stored in Postgres (createSchedule). Static ones,
// declared on a workflow, live in its code and are not listed.
import type { Command } from 'commander';
import type { ScheduleInfo } from '../schedules.ts';
import { action, listCommand } from './context.ts';
import { withClient } from './database.ts';
import { when } from './format.ts';
import { pointInTime } from './parse.ts';

export function scheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description('dynamic schedules (createSchedule)');
  listCommand<ScheduleInfo>(
    schedule,
    'every dynamic schedule, with its next tick',
    (client) => client.listSchedules(),
    [
      { header: 'ID', value: (s) => s.id, max: 40 },
      { header: 'WORKFLOW', value: (s) => s.workflow, max: 24 },
      { header: 'CRON', value: (s) => s.cron },
      { header: 'TIMEZONE', value: (s) => s.timezone },
      { header: 'QUEUE', value: (s) => s.queue ?? '-', max: 20 },
      { header: 'STATE', value: (s) => (s.paused ? 'paused' : 'active') },
      { header: 'NEXT TICK (UTC)', value: (s) => when(s.nextAt) },
    ],
    'no dynamic schedules',
  );
  const pauses = [
    ['pause', true, 'stop firing a schedule until it is resumed'],
    ['resume', false, 'fire a paused schedule again from its next tick (ticks missed meanwhile are not run: backfill runs them)'],
  ] as const;
  for (const [verb, paused, description] of pauses) {
    schedule
      .command(verb)
      .description(description)
      .argument('<id>', 'schedule ID')
      .action(action<object, [string]>(async (cli, _o, id) => {
        await withClient(cli, (client) => (paused ? client.pauseSchedule(id) : client.resumeSchedule(id)));
        cli.show({ id, paused }, () => `${verb}d schedule ${id}`);
      }));
  }
  schedule
    .command('trigger')
    .description('one run of a schedule now, paused or not')
    .argument('<id>', 'schedule ID')
    .action(action<object, [string]>(async (cli, _o, id) => {
      const handle = await withClient(cli, (client) => client.triggerSchedule(id));
      cli.show({ id, workflowId: handle.id }, () => `triggered schedule ${id}: workflow ${handle.id}`);
    }));
  schedule
    .command('backfill')
    .description('run each tick of a schedule in a past range once; ticks that already ran are not repeated')
    .argument('<id>', 'schedule ID')
    .requiredOption('--from <when>', 'first tick at or after: a duration ago (2d) or an ISO date (UTC unless it says)', (v) => pointInTime(v))
    .requiredOption('--to <when>', 'last tick at or before, as --from; not in the future', (v) => pointInTime(v))
    .action(action<{ from: Date; to: Date }, [string]>(async (cli, o, id) => {
      const handles = await withClient(cli, (client) => client.backfillSchedule(id, o.from, o.to));
      const ids = handles.map((h) => h.id);
      cli.show({ id, workflowIds: ids }, () => `backfilled schedule ${id}: ${ids.length} tick(s) enqueued or already run`);
    }));
}
