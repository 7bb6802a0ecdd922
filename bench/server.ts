// The Postgres server of a benchmark. By default a throwaway embedded Postgres, with Postgres's
// default durability (fsync and synchronous_commit on): the figures must hold for a real
// deployment, not a test setup. `npm run bench -- --database-url URL` uses an external server
// instead (another version, another machine), on which the bench only ever creates databases of
// its own and drops them after.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../storage/embedded.ts';
import { redactUrl } from '../storage/connect.ts';
import { createDatabase, dropDatabase, urlOfDatabase } from '../storage/test-databases.ts';
import { silentLogger } from '../common/logger.ts';

export async function withBenchPostgres<T>(fn: (server: EmbeddedPostgres) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'skein-bench-'));
  chmodSync(dir, 0o755);
  const server = await startEmbeddedPostgres(join(dir, 'db'), { logger: silentLogger });
  try {
    return await fn(server);
  } finally {
    await server.stop({ force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface BenchServer {
  /** a database on the server to connect to for CREATE DATABASE and the like */
  url: string;
  /** how the report names it: 'embedded', or the URL without its password */
  label: string;
}

/** `fn` on the external server of `databaseUrl`, or else on a throwaway embedded one. */
export async function withServer<T>(databaseUrl: string | undefined, fn: (server: BenchServer) => Promise<T>): Promise<T> {
  if (databaseUrl) return fn({ url: databaseUrl, label: `external, ${redactUrl(databaseUrl)}` });
  return withBenchPostgres((embedded) => fn({ url: embedded.url, label: 'embedded' }));
}

/**
 * A fresh database for one process of the bench, dropped when `fn` ends (its sessions ended by
 * force: a SIGKILLed process leaves its own). The random part keeps two benches on one shared
 * external server apart.
 */
export async function withDatabase<T>(server: BenchServer, purpose: string, fn: (url: string) => Promise<T>): Promise<T> {
  const name = `skein_bench_${purpose}_${randomBytes(4).toString('hex')}`;
  await createDatabase(server.url, name);
  try {
    return await fn(urlOfDatabase(server.url, name));
  } finally {
    await dropDatabase(server.url, name);
  }
}
