// A Postgres of a test's own, for tests that stop and start the server under running Skeins
// (the file's shared server must stay up for the other tests of the file).
import type { ExecutionContext } from 'ava';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../storage/embedded.ts';
import { silentLogger } from '../../common/logger.ts';

export interface PrivatePostgres {
  url: string;
  /** stops the server; `start` brings it back on the same data directory and port */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Starts one, stopped and removed when the test ends. */
export async function privatePostgres(t: ExecutionContext): Promise<PrivatePostgres> {
  // under the directory `npm test` sweeps: a timed-out run leaves no server behind
  const dir = mkdtempSync(join(process.env.SKEIN_TEST_SERVERS_DIR ?? tmpdir(), 'skein-restart-'));
  chmodSync(dir, 0o755);
  const settings = { fsync: 'off' };
  let server = await startEmbeddedPostgres(join(dir, 'db'), { settings, logger: silentLogger });
  t.teardown(async () => {
    await server.stop({ force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  const port = Number(new URL(server.url).port);
  return {
    url: server.url,
    // under running Skeins, on purpose: a hand-over to them would keep it up
    stop: () => server.stop({ force: true }),
    start: async () => {
      server = await startEmbeddedPostgres(join(dir, 'db'), { settings, port, logger: silentLogger });
    },
  };
}
