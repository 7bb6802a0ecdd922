// Progress of the bench's runs. On a terminal, a bar per run; when the output goes to a file or
// a pipe, where a bar cannot redraw (cli-progress then never starts its bars, and its final
// render showed `{system}` unfilled), a plain line when a run enters a workload, when it ends,
// and every 10 s meanwhile.
import { MultiBar, Presets } from 'cli-progress';

export interface Run {
  /** `done` of the run's total units, now in `workload` */
  update(done: number, workload: string): void;
  end(ok: boolean): void;
}

const PLAIN_EVERY_MS = 10_000;

export class Progress {
  #bars: MultiBar | undefined;
  #plain = new Set<{ print(): void; printedAt: number }>();
  #timer: NodeJS.Timeout | undefined;

  /** `interactive`: draw bars; by default only when both stdout and stderr (the bars') are terminals. */
  constructor(interactive = Boolean(process.stdout.isTTY && process.stderr.isTTY)) {
    if (interactive) {
      this.#bars = new MultiBar(
        { format: '  {system} {bar} {percentage}% | {workload}', hideCursor: true, clearOnComplete: false },
        Presets.shades_classic,
      );
    }
  }

  /** Tracks a run of `total` units, labelled `system` (padded so the bars line up). */
  start(system: string, total: number): Run {
    const label = system.padEnd(8);
    if (this.#bars) {
      const bar = this.#bars.create(total, 0, { system: label, workload: 'starting' });
      return {
        update: (done, workload) => bar.update(done, { system: label, workload }),
        end: (ok) => bar.update(total, { system: label, workload: ok ? 'done' : 'failed' }),
      };
    }
    const began = Date.now();
    let done = 0;
    let workload = 'starting';
    const entry = {
      printedAt: 0,
      print() {
        entry.printedAt = Date.now();
        const percent = String(Math.floor((100 * done) / Math.max(total, 1))).padStart(3);
        console.log(`  ${label} ${percent}% | ${workload} (${Math.round((entry.printedAt - began) / 1000)} s)`);
      },
    };
    this.#plain.add(entry);
    // a line every 10 s, unless one was just printed (a workload began)
    this.#timer ??= setInterval(() => {
      for (const e of this.#plain) if (Date.now() - e.printedAt >= PLAIN_EVERY_MS / 2) e.print();
    }, PLAIN_EVERY_MS).unref();
    entry.print();
    return {
      update: (d, w) => {
        done = d;
        if (w === workload) return;
        workload = w;
        entry.print();
      },
      end: (ok) => {
        done = total;
        workload = ok ? 'done' : 'failed';
        entry.print();
        this.#plain.delete(entry);
      },
    };
  }

  /** A line of its own, above the bars if they are drawn (a plain console.log would tear them). */
  log(line: string): void {
    if (this.#bars) this.#bars.log(`${line}\n`);
    else console.log(line);
  }

  stop(): void {
    this.#bars?.stop();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
