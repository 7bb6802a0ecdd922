// Main side of the threads' lines (threads/line.ts): each worker thread opens one MessageChannel
// to main as it starts, and every run on it talks over that line, its messages tagged with the
// run's number. A run gets a RunLink, which the dispatcher uses as it used a run's own port.
//
// Main's messages to a thread wait for the end of the turn and go as one batch: the replies of a
// flush of 500 checkpoints are a post per thread, not 500 posts (each 10-60 us here when it
// wakes an idle thread). A run is bound to its line by its first message (`thread`, sent before
// anything else): until then main does not know which thread piscina gave the task to, and what
// it sends (a cancel) waits in the link.
import type { MessagePort } from 'node:worker_threads';
import type { MainMessage, OnLine, WorkerMessage } from '../common/protocol.ts';

/** Messages in one batch at most: a flush of the rest waits for the next turn's batch. */
const BATCH_MAX = 1024;

class Line {
  readonly #port: MessagePort;
  #out: OnLine<MainMessage>[] = [];
  #flush: NodeJS.Immediate | null = null;

  constructor(port: MessagePort, links: Map<number, RunLink>) {
    this.#port = port;
    port.on('message', ([run, msg]: OnLine<WorkerMessage>) => links.get(run)?.deliver(msg, this));
    // the pool's threads keep the process alive while they run, not their lines
    port.unref();
  }

  send(run: number, msg: MainMessage): void {
    this.#out.push([run, msg]);
    if (this.#out.length >= BATCH_MAX) return this.flush();
    this.#flush ??= setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.#flush) clearImmediate(this.#flush);
    this.#flush = null;
    if (this.#out.length === 0) return;
    const batch = this.#out;
    this.#out = [];
    this.#port.postMessage(batch);
  }

  close(): void {
    if (this.#flush) clearImmediate(this.#flush);
    this.#flush = null;
    this.#out = [];
    this.#port.close();
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

  constructor(run: number, links: Map<number, RunLink>) {
    this.run = run;
    this.#links = links;
  }

  on(_event: 'message', fn: (msg: WorkerMessage) => void): void {
    this.#onMessage = fn;
  }

  postMessage(msg: MainMessage): void {
    if (!this.#links.has(this.run)) return; // closed: as a closed port, it carries nothing
    if (this.#line) this.#line.send(this.run, msg);
    else this.#early.push(msg);
  }

  /** A message of the run, arrived on `line`: the first one binds the run to it. */
  deliver(msg: WorkerMessage, line: Line): void {
    if (!this.#line) {
      this.#line = line;
      for (const early of this.#early.splice(0)) line.send(this.run, early);
    }
    this.#onMessage?.(msg);
  }

  close(): void {
    this.#links.delete(this.run);
    this.#early = [];
    this.#onMessage = null;
  }
}

export class ThreadLines {
  readonly #lines = new Map<number, Line>();
  readonly #links = new Map<number, RunLink>();
  #nextRun = 1;

  /** A thread's line, as its `skein:line` message brought it. */
  attach(threadId: number, port: MessagePort): void {
    this.#lines.get(threadId)?.close();
    this.#lines.set(threadId, new Line(port, this.#links));
  }

  /** Closes the lines of threads that are gone (`live` false): what waited to go to them goes nowhere. */
  retain(live: (threadId: number) => boolean): void {
    for (const [threadId, line] of this.#lines) {
      if (live(threadId)) continue;
      line.close();
      this.#lines.delete(threadId);
    }
  }

  /** A link for a new run; its number goes in the task. */
  open(): RunLink {
    const link = new RunLink(this.#nextRun++, this.#links);
    this.#links.set(link.run, link);
    return link;
  }

  close(): void {
    for (const line of this.#lines.values()) line.close();
    this.#lines.clear();
    this.#links.clear();
  }
}
