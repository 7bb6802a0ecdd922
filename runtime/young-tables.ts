// Keeps planner statistics on skein's busiest tables while they are young.
//
// Autovacuum first analyzes a table up to a minute (autovacuum_naptime) after it starts to
// fill. Until then the planner has no statistics: it guessed how many rows `status = 'PENDING'`
// matches, and a cached generic plan made on a nearly empty table stayed in use while the table
// grew. Workload 1 in a fresh database ran at a median of 1,450-1,560 workflows/s with the
// tables never analyzed and 1,700-1,830 once they were, after its warm-up (.prof/alt.ts, 6
// rounds of 2,000, bench/PROFILES.md). That first minute is every new deployment's, every
// test database's and every benchmark's.
//
// So until autovacuum has analyzed a table (it keeps the statistics from then on), or for
// WATCH_MS at most, this analyzes it whenever its changes since the last ANALYZE reach the rows
// the planner knows of (at least MIN_CHANGES): at 200 changed rows, then about each time the table doubles, a
// few times in all. Reading the counters is one catalog query every CHECK_MS.
import type { Logger } from '../common/logger.ts';
import { errorField } from '../common/logger.ts';
import type { Pool } from '../storage/database.ts';
import { analyzeTables, HOT_TABLES, readTableStats, type HotTable } from '../storage/table-stats.ts';

export const CHECK_MS = 1_000;
export const WATCH_MS = 15 * 60_000;
export const MIN_CHANGES = 200;
/**
 * Checks after an ANALYZE that find its table's last_analyze unchanged before this role is taken
 * not to be allowed to analyze it: Postgres 14 and older report it through the stats collector,
 * late.
 */
const UNCHANGED_CHECKS = 3;

export interface YoungTablesDeps {
  pool: Pool;
  schema: string;
  logger: Logger;
}

export class YoungTables {
  readonly #deps: YoungTablesDeps;
  /** tables left to autovacuum, or that this role may not analyze */
  readonly #done = new Set<HotTable>();
  /** last_analyze of the tables when this process last asked to analyze them, and the checks since that found it unchanged */
  readonly #asked = new Map<HotTable, { analyzedAt: number | null; unchanged: number }>();
  #until = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = false;

  constructor(deps: YoungTablesDeps) {
    this.#deps = deps;
  }

  start(): void {
    if (this.#until !== 0) return;
    this.#until = Date.now() + WATCH_MS;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  #schedule(): void {
    if (this.#stopped || Date.now() >= this.#until || this.#done.size === HOT_TABLES.length) return;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#check()
        .catch((err) => this.#deps.logger.debug('skein: reading table statistics failed; trying again', { error: errorField(err) }))
        .finally(() => {
          this.#inFlight = undefined;
          this.#schedule();
        });
    }, CHECK_MS);
    this.#timer.unref();
  }

  async #check(): Promise<void> {
    const { pool, schema, logger } = this.#deps;
    const due: HotTable[] = [];
    const before = new Map<HotTable, number | null>();
    for (const s of await readTableStats(pool, schema)) {
      if (this.#done.has(s.table)) continue;
      if (s.autoAnalyzed) {
        this.#done.add(s.table);
        continue;
      }
      const asked = this.#asked.get(s.table);
      if (asked && asked.analyzedAt === s.analyzedAt) {
        // asked, and nobody analyzed it since: not this role's to analyze (a warning from
        // Postgres, not an error), or autovacuum held it and will report soon
        if (++asked.unchanged >= UNCHANGED_CHECKS) this.#done.add(s.table);
        continue;
      }
      this.#asked.delete(s.table);
      if (s.changedSinceAnalyze >= Math.max(MIN_CHANGES, s.plannerRows)) {
        due.push(s.table);
        before.set(s.table, s.analyzedAt);
      }
    }
    if (due.length === 0 || this.#stopped) return;
    await analyzeTables(pool, schema, due);
    // asked only once Postgres answered: a failed ANALYZE (a lost connection) is tried again
    for (const table of due) this.#asked.set(table, { analyzedAt: before.get(table) ?? null, unchanged: 0 });
    logger.debug('skein: analyzed young tables', { tables: due });
  }
}
