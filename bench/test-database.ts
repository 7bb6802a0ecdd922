// What skein/testing's database() saves a test file: the time to a database with skein's tables,
// (a) cloned from the migrated template (what database() does, from its call to its answer) vs
// (b) CREATE DATABASE and then migrate(). Alternating passes, so a drift of the machine (a
// checkpoint, another process) falls on both; the template's one-off build is timed apart. (c),
// an empty CREATE DATABASE, is the floor under both: what a clone could at best save is (b) - (c).
// Run: npx tsx bench/test-database.ts [passes]   (default 10)
// The server: SKEIN_DATABASE_URL, else SKEIN_TEST_DATABASE_URL (under test/support/with-postgres.ts:
// the tests' server, fsync off), else a throwaway embedded Postgres at default durability.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { database } from '../runtime/testing/index.ts';
import { redactUrl } from '../storage/connect.ts';
import { createPool } from '../storage/database.ts';
import { migrate } from '../storage/migrate.ts';
import { createDatabase, dropDatabase, prepareTemplate, templateName, urlOfDatabase } from '../storage/test-databases.ts';
import { withBenchPostgres } from './server.ts';
import { quantile } from './workloads.ts';

const PASSES = Number(process.argv[2] ?? 10);
if (!Number.isSafeInteger(PASSES) || PASSES < 1) throw new Error(`usage: tsx bench/test-database.ts [passes], got ${process.argv[2]}`);
// a schema of its own: its template is built here, not found from an earlier run
const SCHEMA = `bench_${randomBytes(4).toString('hex')}`;

async function run(serverUrl: string, server: string): Promise<void> {
  console.log(
    `test-database: ${PASSES} alternating passes of (a) database() cloning the template and (b) CREATE DATABASE + ` +
      `migrate() (and (c) an empty CREATE DATABASE), schema ${SCHEMA}; server ${server}; ${availableParallelism()} cores, Node ${process.version}`,
  );
  let t0 = performance.now();
  await prepareTemplate(serverUrl, SCHEMA);
  const buildMs = performance.now() - t0;
  const cloned: number[] = [];
  const migrated: number[] = [];
  const empty: number[] = [];
  for (let i = 0; i < PASSES; i++) {
    t0 = performance.now();
    const db = await database({ url: serverUrl, schema: SCHEMA });
    cloned.push(performance.now() - t0);
    await db.drop();

    const name = `skein_bench_${randomBytes(8).toString('hex')}`;
    t0 = performance.now();
    await createDatabase(serverUrl, name);
    const pool = createPool(urlOfDatabase(serverUrl, name), 1, () => {});
    try {
      await migrate(pool, SCHEMA);
    } finally {
      await pool.end();
    }
    migrated.push(performance.now() - t0);
    await dropDatabase(serverUrl, name);

    t0 = performance.now();
    await createDatabase(serverUrl, name);
    empty.push(performance.now() - t0);
    await dropDatabase(serverUrl, name);
  }
  const row = (label: string, xs: number[]) =>
    `${label.padEnd(30)} ${[quantile(xs, 0.5), Math.min(...xs), quantile(xs, 0.25), quantile(xs, 0.75), Math.max(...xs)]
      .map((x) => x.toFixed(1).padStart(8))
      .join(' ')}`;
  console.log(`${'ms'.padEnd(30)} ${['median', 'min', 'p25', 'p75', 'max'].map((h) => h.padStart(8)).join(' ')}`);
  console.log(row('(a) clone of the template', cloned));
  console.log(row('(b) CREATE DATABASE + migrate', migrated));
  console.log(row('(c) CREATE DATABASE alone', empty));
  console.log(`template built once in ${buildMs.toFixed(0)} ms; (b)/(a) at the median: ${(quantile(migrated, 0.5) / quantile(cloned, 0.5)).toFixed(1)}x`);
  await dropDatabase(serverUrl, await templateName(SCHEMA)).catch(() => {});
}

const given = process.env.SKEIN_DATABASE_URL || process.env.SKEIN_TEST_DATABASE_URL;
if (given) await run(given, redactUrl(given));
else await withBenchPostgres((server) => run(server.url, 'embedded, default durability'));
