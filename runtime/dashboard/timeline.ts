// A workflow's recorded steps as the bars of the dashboard's timeline. The step names say what
// each record is (common/protocol.ts STEP: skein's own ctx calls), and waits are drawn from when
// they began, which their own record does not hold: a recv or getEvent began when its deadline
// was recorded (the step just before it, taken in the same call), a sleep when its wake-up time
// was recorded (its output), a child's result after the step before it.
import { decodeValue } from '../../common/codec.ts';
import { childStartStep, RESERVED_STEP_PREFIX, STEP } from '../../common/protocol.ts';
import type { TimelineRow } from '../../storage/inspect.ts';
import type { TimelineStep } from './contract.ts';
import type { Shower } from './shown.ts';

const CHILD_PREFIX = childStartStep('');

const KIND_OF: ReadonlyMap<string, TimelineStep['kind']> = new Map([
  [STEP.now, 'value'],
  [STEP.random, 'value'],
  [STEP.uuid, 'value'],
  [STEP.recvDeadline, 'value'],
  [STEP.getEventDeadline, 'value'],
  [STEP.getStatus, 'value'],
  [STEP.sleep, 'sleep'],
  [STEP.send, 'send'],
  [STEP.setEvent, 'event'],
  [STEP.recv, 'wait'],
  [STEP.getEvent, 'wait'],
  [STEP.getResult, 'wait'],
]);

/** The deadline step recorded just before each wait that has one. */
const DEADLINE_OF: ReadonlyMap<string, string> = new Map([
  [STEP.recv, STEP.recvDeadline],
  [STEP.getEvent, STEP.getEventDeadline],
]);

export function kindOf(row: Pick<TimelineRow, 'name' | 'transaction'>): TimelineStep['kind'] {
  if (row.transaction) return 'transaction';
  if (row.name.startsWith(CHILD_PREFIX)) return 'child';
  // a user's step may not start with the prefix (ctx.step refuses it): anything else is skein's
  return KIND_OF.get(row.name) ?? (row.name.startsWith(RESERVED_STEP_PREFIX) ? 'value' : 'step');
}

/** A sleep's wake-up time: its recorded output, epoch ms; null when it cannot be read. */
function wakeTime(row: TimelineRow): number | null {
  if (!row.output.bytes) return null;
  try {
    const at = decodeValue(row.output.bytes);
    return typeof at === 'number' && Number.isFinite(at) ? at : null;
  } catch {
    return null;
  }
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * The bars of `rows` (one workflow's steps, by step ID). `before`: the record just before the
 * first row, when the page starts past step 0, so the first wait still finds when it began.
 */
export function timeline(rows: TimelineRow[], show: Shower, before?: TimelineRow): TimelineStep[] {
  return rows.map((row, i) => {
    const previous = i > 0 ? rows[i - 1] : before;
    const kind = kindOf(row);
    let startedAt = iso(row.startedAt);
    let completedAt = row.completedAt.toISOString();
    let wakeAt: string | null = null;
    if (row.name === STEP.sleep) {
      const at = wakeTime(row);
      // the record is made as the sleep begins; the bar runs to the wake-up time
      startedAt = iso(row.startedAt ?? row.completedAt);
      if (at !== null) wakeAt = completedAt = new Date(at).toISOString();
    } else if (kind === 'wait' && previous && previous.stepId === row.stepId - 1) {
      const deadline = DEADLINE_OF.get(row.name);
      // a recv's deadline is taken in the same call; a child's result has none: it began at
      // the earliest when the step before it was recorded
      if (deadline === undefined || previous.name === deadline) startedAt = previous.completedAt.toISOString();
    }
    const error = show.error(row.error);
    return {
      stepId: row.stepId,
      name: row.name,
      kind,
      startedAt,
      completedAt,
      attempts: row.attempts ?? 1,
      error: error && { name: error.name, message: error.message },
      // a sleep's output is its wake-up time, shown as wakeAt
      output: row.name === STEP.sleep ? null : show.value(row.output),
      childWorkflowId: row.childWorkflowId,
      wakeAt,
    };
  });
}
