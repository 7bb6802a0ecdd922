// `npm test`: starts a throwaway embedded Postgres, runs the given command (ava) against it, and
// stops it. Test files each create their own database on this server (helpers.ts). Tests that
// start servers of their own keep them under SKEIN_TEST_SERVERS_DIR, swept at the end: a test
// process ava kills (a timeout) or that dies of SIGKILL leaves no server running.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redactUrl } from '../../storage/connect.ts';
import { startEmbeddedPostgres } from '../../storage/embedded.ts';
import { stopPostmastersUnder } from '../../storage/embedded-postmaster.ts';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: tsx test/support/with-postgres.ts <command> [args...]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'skein-test-'));
chmodSync(dir, 0o755);
const serversDir = join(dir, 'servers');
mkdirSync(serversDir, { mode: 0o755 });
chmodSync(serversDir, 0o755); // the `postgres` OS user (as root) must reach data dirs in it
const server = await startEmbeddedPostgres(join(dir, 'db'), {
  // throwaway data: durability buys nothing here (benchmarks keep the defaults)
  settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '400' },
});
console.log(`skein tests: embedded Postgres at ${redactUrl(server.url)}`);
const child = spawn(command, args, {
  stdio: 'inherit',
  shell: process.platform === 'win32',
  // launch lines of hundreds of test Skeins would bury the results: warnings and errors only, unless asked
  env: { SKEIN_LOG: 'warn', ...process.env, SKEIN_TEST_DATABASE_URL: server.url, SKEIN_TEST_SERVERS_DIR: serversDir },
});
// A hung test must fail the run, not hold it until CI's own limit. ava's `timeout` cannot be
// trusted for this: when its timer fires while a test's longer t.timeout() window is open it
// ignores the firing and never re-arms, so a test hanging near the end of a long one (ava 7)
// hangs the run forever. SIGINT makes ava list the tests still pending before it exits.
const deadlineMinutes = Number(process.env.SKEIN_TEST_DEADLINE_MINUTES ?? 40);
const watchdog = setTimeout(() => {
  console.error(`skein tests: still running after ${deadlineMinutes} min (SKEIN_TEST_DEADLINE_MINUTES): interrupting`);
  child.kill('SIGINT');
  setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
}, deadlineMinutes * 60_000);
const code: number = await new Promise((resolve) => {
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
});
clearTimeout(watchdog);
const swept = await stopPostmastersUnder(serversDir);
if (swept.length) console.error(`skein tests: stopped ${swept.length} embedded Postgres left running: ${swept.join(', ')}`);
await server.stop({ force: true });
rmSync(dir, { recursive: true, force: true });
process.exit(code);
