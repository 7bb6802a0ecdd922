// The `schedule` options of a workflows module, checked at launch: a cron or time zone that
// cannot fire, or a queue this process does not serve, is a ConfigError naming the workflow.
import { parseCron } from '../common/cron.ts';
import { ConfigError } from '../common/errors.ts';
import type { ScannedModule } from '../common/workflow.ts';
import type { QueueConfig } from './config.ts';
import type { StaticSchedule } from './time.ts';

export function staticSchedules(module: ScannedModule, queues: QueueConfig[]): StaticSchedule[] {
  const out: StaticSchedule[] = [];
  for (const wf of module.workflows.values()) {
    const { schedule, timezone, queue } = wf.options;
    const at = `workflow '${wf.name}': options`;
    if (schedule === undefined) {
      for (const [key, v] of [['timezone', timezone], ['queue', queue]] as const) {
        if (v !== undefined) throw new ConfigError(`${at}.${key} needs ${at}.schedule (it applies to scheduled runs only)`);
      }
      continue;
    }
    const cron = parseCron(`${at}.schedule`, schedule, timezone);
    const q = queue === undefined ? undefined : queues.find((c) => c.name === queue);
    if (queue !== undefined && !q) {
      throw new ConfigError(
        `${at}.queue: '${queue}' is not declared in config.queues of this process ` +
          `(declared: ${queues.map((c) => c.name).join(', ') || 'none'})`,
      );
    }
    if (q?.partitionConcurrency !== undefined) {
      throw new ConfigError(`${at}.queue: queue '${queue}' is partitioned, and scheduled runs have no partitionKey`);
    }
    out.push({ workflow: wf.name, cron, queue: queue ?? null });
  }
  return out;
}
