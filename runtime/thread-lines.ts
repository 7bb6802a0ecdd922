// Main side of the threads' lines (threads/line.ts): each worker thread opens one MessageChannel
// to main as it starts, and every run on it talks over that line, its messages tagged with the
// run's number. A run gets a RunLink, which the dispatcher uses as it used a run's own port.
//
// Main's messages to a thread wait for the end of the turn and go as one batch: the replies of a
// flush of 500 checkpoints are a post per thread, not 500 posts (each 10-60 us here when it
// wakes an idle thread).
//
// A workflow's run goes to its thread on the line as well (`start`, in the batch), and its end
// comes back on it (`end`): no piscina task per run. A thread's death ends the runs on its line
// with the thread's error, as piscina rejected their tasks before (Line.close). A replay is still
// a piscina task, bound to its line by its first message (`thread`, sent before anything else):
// until then main does not know which thread piscina gave it to, and what main sends it waits in
// the link.
import type { MessagePort } from 'node:worker_threads';
import type { EndMessage, FromWorker, MainMessage, OnLine, RunTask, TaskResult, ToWorker, WorkerMessage } from '../common/protocol.ts';

/** Messages in one batch at most: a flush of the rest waits for the next turn's batch. */
const BATCH_MAX = 1024;

/** How a run on a line ended: what its task returned, or why it did not (its thread died). */
export type RunEnd = { result: TaskResult } | { error: unknown };

class Line {
  readonly #port: MessagePort;
  #out: OnLine<ToWorker>[] = [];
  #flush: NodeJS.Immediate | null = null;
  /** runs started on this line and not yet ended */
  readonly #runs = new Set<RunLink>();

  constructor(port: MessagePort, links: Map<number, RunLink>) {
    this.#port = port;
    port.on('message', ([run, msg]: OnLine<FromWorker>) => links.get(run)?.deliver(msg, this));
    // the pool's threads keep the process alive while they run, not their lines (a line with
    // runs on it is referenced: see start)
    port.unref();
  }

  send(run: number, msg: ToWorker): void {
    this.#out.push([run, msg]);
    if (this.#out.length >= BATCH_MAX) return this.flush();
    this.#flush ??= setImmediate(() => this.flush());
  }

  /** Sends `task` to run here, in this turn's batch. */
  start(link: RunLink, task: RunTask): void {
    this.#runs.add(link);
    // the process stays alive while a workflow runs on a thread, as it did for a piscina task
    if (this.#runs.size === 1) this.#port.ref();
    this.send(link.run, { type: 'start', task });
  }

  get busy(): boolean {
    return this.#runs.size > 0;
  }

  /** `link`'s run ended or was given up. */
  ended(link: RunLink): void {
    if (this.#runs.delete(link) && this.#runs.size === 0) this.#port.unref();
  }

  flush(): void {
    if (this.#flush) clearImmediate(this.#flush);
    this.#flush = null;
    if (this.#out.length === 0) return;
    const batch = this.#out;
    this.#out = [];
    this.#port.postMessage(batch);
  }

  /** The thread is gone: its runs end with `reason`, and nothing more goes to it. */
  close(reason: unknown): void {
    if (this.#flush) clearImmediate(this.#flush);
    this.#flush = null;
    this.#out = [];
    this.#port.close();
    const runs = [...this.#runs];
    this.#runs.clear();
    for (const link of runs) link.fail(reason);
  }
}

/** One run's end of its thread's line: what a per-run MessagePort was to the dispatcher. */
export class RunLink {
  readonly run: number;
  readonly #links: Map<number, RunLink>;
  #line: Line | null = null;
  /** sent before the run's first message bound it to a line */
  #early: MainMessage[] = [];
  #onMessage: ((msg: WorkerMessage) => void) | null = null;
  #onEnd: ((end: RunEnd) => void) | null = null;

  constructor(run: number, links: Map<number, RunLink>) {
    this.run = run;
    this.#links = links;
  }

  on(_event: 'message', fn: (msg: WorkerMessage) => void): void {
    this.#onMessage = fn;
  }

  /** Told once, when a run started on a line (ThreadLines.start) ends. */
  onEnd(fn: (end: RunEnd) => void): void {
    this.#onEnd = fn;
  }

  postMessage(msg: MainMessage): void {
    if (!this.#links.has(this.run)) return; // closed: as a closed port, it carries nothing
    if (this.#line) this.#line.send(this.run, msg);
    else this.#early.push(msg);
  }

  /** Binds the run to `line` (if it is not yet): what waited goes now. */
  bind(line: Line): void {
    if (this.#line) return;
    this.#line = line;
    for (const early of this.#early.splice(0)) line.send(this.run, early);
  }

  /** A message of the run, arrived on `line`: the first one binds a replay's run to it. */
  deliver(msg: FromWorker, line: Line): void {
    this.bind(line);
    if (msg.type === 'end') return this.#end(endOf(msg));
    this.#onMessage?.(msg);
  }

  /** Its thread died under it. */
  fail(reason: unknown): void {
    this.#end({ error: reason });
  }

  #end(end: RunEnd): void {
    const fn = this.#onEnd;
    this.#onEnd = null;
    this.#line?.ended(this);
    fn?.(end);
  }

  close(): void {
    this.#links.delete(this.run);
    this.#line?.ended(this);
    this.#early = [];
    this.#onMessage = null;
    this.#onEnd = null;
  }
}

function endOf(msg: EndMessage): RunEnd {
  return msg.result ? { result: msg.result } : { error: new Error(msg.error ?? 'the run ended without a result') };
}

export class ThreadLines {
  readonly #lines = new Map<number, Line>();
  readonly #links = new Map<number, RunLink>();
  #nextRun = 1;

  /** A thread's line, as its `skein:line` message brought it. */
  attach(threadId: number, port: MessagePort): void {
    const old = this.#lines.get(threadId);
    this.#lines.set(threadId, new Line(port, this.#links));
    old?.close(new Error('the thread opened a new line'));
  }

  /** Whether runs are on thread `threadId`'s line. */
  busy(threadId: number): boolean {
    return this.#lines.get(threadId)?.busy ?? false;
  }

  /** Whether thread `threadId` has a line to send runs on. */
  has(threadId: number): boolean {
    return this.#lines.has(threadId);
  }

  /**
   * Closes the lines of threads that are gone (`live` false): what waited to go to them goes
   * nowhere, and their runs end with what `reason` says of the thread.
   */
  retain(live: (threadId: number) => boolean, reason: (threadId: number) => unknown): void {
    for (const [threadId, line] of [...this.#lines]) {
      if (live(threadId)) continue;
      this.#lines.delete(threadId);
      line.close(reason(threadId));
    }
  }

  /** Starts `task` on thread `threadId`'s line as `link`'s run; false if the thread has none. */
  start(threadId: number, link: RunLink, task: RunTask): boolean {
    const line = this.#lines.get(threadId);
    if (!line) return false;
    link.bind(line);
    line.start(link, task);
    return true;
  }

  /** A link for a new run; its number goes in the task. */
  open(): RunLink {
    const link = new RunLink(this.#nextRun++, this.#links);
    this.#links.set(link.run, link);
    return link;
  }

  /** Every line closes; runs still on one end with `reason`. */
  close(reason: unknown): void {
    const lines = [...this.#lines.values()];
    this.#lines.clear();
    for (const line of lines) line.close(reason);
    this.#links.clear();
  }
}
