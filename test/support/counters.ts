// Counters shared by the test process and every worker thread: a table in the test file's
// database (created by helpers.ts), so "this step ran N times" holds across threads (and, later, processes).
import pg from 'pg';

let pool: pg.Pool | undefined;

function db(): pg.Pool {
  const url = process.env.SKEIN_TEST_DB;
  if (!url) throw new Error('SKEIN_TEST_DB is not set (launch through test/support/helpers.ts)');
  if (!pool) {
    pool = new pg.Pool({ connectionString: url, max: 2, allowExitOnIdle: true });
    pool.on('error', () => {});
  }
  return pool;
}

/** Adds one to `key` and returns the new count. */
export async function bump(key: string): Promise<number> {
  const { rows } = await db().query<{ n: number }>(
    `INSERT INTO test_counters (key, n) VALUES ($1, 1)
     ON CONFLICT (key) DO UPDATE SET n = test_counters.n + 1 RETURNING n`,
    [key],
  );
  return rows[0]!.n;
}

export async function count(key: string): Promise<number> {
  const { rows } = await db().query<{ n: number }>('SELECT n FROM test_counters WHERE key = $1', [key]);
  return rows[0]?.n ?? 0;
}

/** A client on the test database, for steps that inspect it. */
export function testDb(): pg.Pool {
  return db();
}
