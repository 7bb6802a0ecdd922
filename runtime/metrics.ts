// What this process counted since launch, and the Prometheus text format for /metrics. The
// counting is a few integer increments on paths main takes anyway (a checkpoint acknowledged, a
// run ended, a timer fired); nothing is read from the database until someone asks, and then the
// queue gauges cost one query. The text format is written here (version 0.0.4, the one every
// Prometheus scraper reads) rather than through prom-client: a dozen series need no registry,
// and prom-client's default collectors would add process metrics the host service may already
// export under the same names.
import type { QueueSummary } from '../storage/queue-summary.ts';

/** A cumulative histogram: `buckets[i]` counts the observations <= `le[i]`. */
export interface Histogram {
  count: number;
  sum: number;
  buckets: { le: number; count: number }[];
}

/** `Skein.metrics()`: counters since this process launched, gauges as of now. */
export interface SkeinMetrics {
  executorId: string;
  appVersion: string;
  /** new workflows this process wrote (starts, children, forks, debounces, schedule runs) */
  workflowsStarted: number;
  /** final statuses this process wrote; CANCELLED: runs here that a cancel ended */
  workflowsFinished: { SUCCESS: number; ERROR: number; CANCELLED: number; MAX_RECOVERY_ATTEMPTS_EXCEEDED: number };
  /** steps and transactions that ran here and were recorded (replays not counted) */
  steps: number;
  /** of those, the ones recorded as failed (after their retries) */
  stepErrors: number;
  /** retries of steps and transactions (each back-off begun before another try) */
  retries: number;
  /** worker threads that ended while this process ran (crashes, killThread, force cancels) */
  threadDeaths: number;
  /** pending workflows this process took over (launch recovery, takeover of dead executors) */
  recoveries: number;
  /** this process's workflows now: running code or waiting on a thread, parked off one, awaiting a slot */
  workflows: { running: number; parked: number; ready: number };
  /** per queue, across every process on the database (one query) */
  queues: QueueSummary[];
  /** units (one per awaited write) per group commit */
  checkpointBatchSize: Histogram;
  /** how late timers fired (sleep wake-ups, retry back-offs, schedules, delayed starts, deadlines), ms */
  wakeUpLatencyMs: Histogram;
}

const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500];
const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000];

class Buckets {
  readonly #le: number[];
  readonly #counts: number[];
  #count = 0;
  #sum = 0;

  constructor(le: number[]) {
    this.#le = le;
    this.#counts = le.map(() => 0);
  }

  observe(v: number): void {
    this.#count++;
    this.#sum += v;
    // a dozen bounds: a linear walk is cheaper than anything cleverer
    for (let i = 0; i < this.#le.length; i++) {
      if (v <= this.#le[i]!) {
        this.#counts[i]!++;
        return;
      }
    }
  }

  snapshot(): Histogram {
    let running = 0;
    return {
      count: this.#count,
      sum: this.#sum,
      buckets: this.#le.map((le, i) => ({ le, count: (running += this.#counts[i]!) })),
    };
  }
}

/** The counters; one per Skein, incremented by the dispatcher, the writer and recovery. */
export class Counters {
  workflowsStarted = 0;
  readonly finished = { SUCCESS: 0, ERROR: 0, CANCELLED: 0, MAX_RECOVERY_ATTEMPTS_EXCEEDED: 0 };
  steps = 0;
  stepErrors = 0;
  retries = 0;
  threadDeaths = 0;
  recoveries = 0;
  readonly batchSize = new Buckets(BATCH_BUCKETS);
  readonly wakeUpLatency = new Buckets(LATENCY_BUCKETS_MS);
}

/** How long metrics() reuses the queue gauges it read. */
export const QUEUE_GAUGES_MS = 1000;

/**
 * A value loaded at most once per `ms`, and by one load at a time: callers during a load share
 * it. A failed load is not kept.
 */
export class Recent<T> {
  readonly #ms: number;
  readonly #load: () => Promise<T>;
  /** the last load; `at`: when it settled, Infinity while it runs (so it is shared) */
  #last: { at: number; value: Promise<T> } | null = null;

  constructor(ms: number, load: () => Promise<T>) {
    this.#ms = ms;
    this.#load = load;
  }

  get(): Promise<T> {
    if (this.#last && (this.#last.at === Infinity || Date.now() - this.#last.at < this.#ms)) return this.#last.value;
    const last: { at: number; value: Promise<T> } = { at: Infinity, value: this.#load() };
    this.#last = last;
    last.value.then(
      () => (last.at = Date.now()),
      () => {
        if (this.#last === last) this.#last = null;
      },
    );
    return last.value;
  }
}

// ---- Prometheus text format ------------------------------------------------------------------

/** A label value as the text format wants it: backslash, quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

class Exposition {
  readonly lines: string[] = [];

  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }

  sample(name: string, value: number, l: Record<string, string> = {}): this {
    this.lines.push(`${name}${labels(l)} ${Number.isFinite(value) ? value : 'NaN'}`);
    return this;
  }

  /** `per`: observations per exported unit (1000 for ms shown as seconds; a division stays exact where a product would not) */
  histogram(name: string, h: Histogram, per = 1): this {
    for (const b of h.buckets) this.sample(`${name}_bucket`, b.count, { le: String(b.le / per) });
    this.sample(`${name}_bucket`, h.count, { le: '+Inf' });
    this.sample(`${name}_sum`, h.sum / per);
    return this.sample(`${name}_count`, h.count);
  }
}

/** The metrics in the Prometheus text exposition format (version 0.0.4). */
export function toPrometheus(m: SkeinMetrics): string {
  const x = new Exposition();
  // who this is, once, as an info metric: the scrape target already tells processes apart, so
  // the identity is not repeated on every series (join on it where a query needs it)
  x.family('skein_info', 'gauge', 'This process: its executor ID and app version')
    .sample('skein_info', 1, { executor: m.executorId, app_version: m.appVersion });
  x.family('skein_workflows_started_total', 'counter', 'New workflows this process wrote').sample('skein_workflows_started_total', m.workflowsStarted);
  x.family('skein_workflows_finished_total', 'counter', 'Final statuses this process wrote, by status');
  for (const [status, n] of Object.entries(m.workflowsFinished)) x.sample('skein_workflows_finished_total', n, { status });
  x.family('skein_steps_total', 'counter', 'Steps and transactions run and recorded here').sample('skein_steps_total', m.steps);
  x.family('skein_step_errors_total', 'counter', 'Steps recorded as failed, after their retries').sample('skein_step_errors_total', m.stepErrors);
  x.family('skein_step_retries_total', 'counter', 'Retries of steps and transactions').sample('skein_step_retries_total', m.retries);
  x.family('skein_thread_deaths_total', 'counter', 'Worker threads that ended while running').sample('skein_thread_deaths_total', m.threadDeaths);
  x.family('skein_recoveries_total', 'counter', 'Pending workflows taken over (launch recovery, takeover)').sample('skein_recoveries_total', m.recoveries);
  x.family('skein_workflows', 'gauge', "This process's workflows by state");
  for (const [state, n] of Object.entries(m.workflows)) x.sample('skein_workflows', n, { state });
  x.family('skein_queue_enqueued', 'gauge', 'Workflows waiting in each queue and due, all processes');
  for (const q of m.queues) x.sample('skein_queue_enqueued', q.enqueued, { queue: q.queue });
  x.family('skein_queue_delayed', 'gauge', 'Workflows in each queue waiting for their start time, all processes');
  for (const q of m.queues) x.sample('skein_queue_delayed', q.delayed, { queue: q.queue });
  x.family('skein_queue_running', 'gauge', 'Workflows dequeued and not finished, per queue, all processes');
  for (const q of m.queues) x.sample('skein_queue_running', q.running, { queue: q.queue });
  x.family('skein_checkpoint_batch_size', 'histogram', 'Writes committed together in one group commit')
    .histogram('skein_checkpoint_batch_size', m.checkpointBatchSize);
  x.family('skein_wakeup_latency_seconds', 'histogram', 'How late timers fired: sleeps, back-offs, schedules, delays, deadlines')
    .histogram('skein_wakeup_latency_seconds', m.wakeUpLatencyMs, 1000);
  return `${x.lines.join('\n')}\n`;
}
