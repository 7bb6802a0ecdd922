// Reads of workflows' outcomes for result(), gathered per turn of the event loop: the calls
// made in one synchronous stretch (`Promise.all(handles.map((h) => h.result()))` over 2,000
// finished workflows) become one statement per READ_CHUNK IDs instead of a query each.
// Measured on the bench's workload 2 (2,000 handles awaited at once after their starts): the
// synchronous loop of result() calls held the main thread 50 ms, most of it pg building and
// queueing 2,000 queries; the replies then arrived over as many turns.
import type { Pool } from '../storage/database.ts';
import { getOutcomes, type OutcomeRow } from '../storage/workflows.ts';

/** IDs per statement: one array parameter; a chunk's reply stays a few hundred KB of small outputs */
const READ_CHUNK = 500;

interface Pending {
  resolve(row: OutcomeRow | null): void;
  reject(err: unknown): void;
}

export class OutcomeReads {
  readonly #pool: Pool;
  readonly #schema: string;
  /** reads asked for in this turn, by ID (one ID asked twice is read once) */
  #pending = new Map<string, Pending[]>();

  constructor(pool: Pool, schema: string) {
    this.#pool = pool;
    this.#schema = schema;
  }

  /** The workflow's status and outcome columns, or null when there is no such workflow. */
  read(id: string): Promise<OutcomeRow | null> {
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) queueMicrotask(() => this.#flush());
      const waiting = this.#pending.get(id);
      if (waiting) waiting.push({ resolve, reject });
      else this.#pending.set(id, [{ resolve, reject }]);
    });
  }

  #flush(): void {
    const batch = this.#pending;
    this.#pending = new Map();
    const ids = [...batch.keys()];
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const chunk = ids.slice(i, i + READ_CHUNK);
      getOutcomes(this.#pool, this.#schema, chunk).then(
        (rows) => {
          const found = new Map(rows.map((r) => [r.id, r]));
          for (const id of chunk) for (const p of batch.get(id)!) p.resolve(found.get(id) ?? null);
        },
        (err) => {
          for (const id of chunk) for (const p of batch.get(id)!) p.reject(err);
        },
      );
    }
  }
}
