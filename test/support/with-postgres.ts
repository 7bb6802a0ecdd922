// `npm test`: starts a throwaway embedded Postgres, runs the given command (ava) against it, and
// stops it. Test files each create their own database on this server (helpers.ts).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../storage/embedded.ts';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: tsx test/support/with-postgres.ts <command> [args...]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'skein-test-'));
chmodSync(dir, 0o755);
const server = await startEmbeddedPostgres(join(dir, 'db'), {
  // throwaway data: durability buys nothing here (benchmarks keep the defaults)
  settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '400' },
});
console.log(`skein tests: embedded Postgres at ${server.url.replace(/:[^:@]*@/, ':***@')}`);
const child = spawn(command, args, {
  stdio: 'inherit',
  shell: process.platform === 'win32',
  env: { ...process.env, SKEIN_TEST_DATABASE_URL: server.url },
});
const code: number = await new Promise((resolve) => {
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
});
await server.stop();
rmSync(dir, { recursive: true, force: true });
process.exit(code);
