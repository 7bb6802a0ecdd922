// Planner statistics of skein's busiest tables, read and refreshed while they are young (see
// runtime/young-tables.ts for why).
import type { Pool } from './database.ts';

/** The tables whose plans go wrong without statistics: every flush reads or writes them. */
export const HOT_TABLES = ['workflow_status', 'steps'] as const;
export type HotTable = (typeof HOT_TABLES)[number];

export interface TableStats {
  table: HotTable;
  /** rows inserted, updated or deleted since the table was last analyzed (by anyone) */
  changedSinceAnalyze: number;
  /** the row count the planner has: pg_class.reltuples, -1 before the first ANALYZE */
  plannerRows: number;
  /** epoch ms of the last manual ANALYZE, or null */
  analyzedAt: number | null;
  /** whether autovacuum has analyzed it: from then on autovacuum keeps its statistics */
  autoAnalyzed: boolean;
}

export async function readTableStats(pool: Pool, schema: string): Promise<TableStats[]> {
  const { rows } = await pool.query<{
    table: HotTable; changed: string; planner_rows: number; analyzed_ms: number | null; auto: boolean;
  }>(
    `SELECT s.relname AS table, s.n_mod_since_analyze AS changed, c.reltuples AS planner_rows,
       extract(epoch FROM s.last_analyze) * 1000 AS analyzed_ms, s.last_autoanalyze IS NOT NULL AS auto
     FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
     WHERE s.schemaname = $1 AND s.relname = ANY($2::text[])`,
    [schema, HOT_TABLES],
  );
  return rows.map((r) => ({
    table: r.table,
    changedSinceAnalyze: Number(r.changed),
    plannerRows: Number(r.planner_rows),
    analyzedAt: r.analyzed_ms === null ? null : Number(r.analyzed_ms),
    autoAnalyzed: r.auto,
  }));
}

/**
 * ANALYZE of `tables`, skipping any another session is vacuuming or analyzing (another replica,
 * autovacuum) instead of queueing behind it. A role that does not own a table gets a warning
 * from Postgres, not an error, and the table is left as it was.
 */
export async function analyzeTables(pool: Pool, schema: string, tables: readonly HotTable[]): Promise<void> {
  const known = new Set<string>(HOT_TABLES);
  // schema is validated (validateSchemaName); table names are ours, checked here all the same
  const names = tables.filter((t) => known.has(t)).map((t) => `${schema}.${t}`);
  if (names.length > 0) await pool.query(`ANALYZE (SKIP_LOCKED) ${names.join(', ')}`);
}
