// The first start of an embedded Postgres on a data directory (storage/embedded.ts): processes
// starting together on a fresh directory (ava's test files, services on a new machine) each see
// no cluster. Each builds one beside pgdata and renames it into place, its password inside it,
// so exactly one lands and everyone uses that one; the others discard theirs.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../common/logger.ts';
import { processAlive, processStart } from './embedded-postmaster.ts';

/** The OS user the server runs as (as root: `postgres`). */
export interface OsUser {
  uid: number;
  gid: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
export function sweepStaging(dir: string): void {
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
export async function initialise(bin: string, dir: string, user: OsUser | null, logger: Logger): Promise<void> {
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
export function storedPassword(dir: string): string {
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
