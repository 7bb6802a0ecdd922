// A throwaway embedded Postgres for benchmarks, with Postgres's default durability (fsync and
// synchronous_commit on): the figures must hold for a real deployment, not a test setup.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../storage/embedded.ts';
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
