// The processes of an embedded Postgres, told apart from whatever else reuses their pids: which
// postmaster runs on a data directory, whether a process still lives, and stopping a postmaster
// that may not be our child (one adopted from a dead launcher).
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

const hasProc = existsSync('/proc/self/stat');

/** State letter and start time of a process, from /proc/<pid>/stat; null when gone or no /proc. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, start: fields[19]! };
  } catch {
    return null;
  }
}

/** Whether `pid` runs (a zombie does not), and is the process that started at `start` if given. */
export function processAlive(pid: number, start: string | null = null): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; // EPERM: runs, as another user
  }
  if (!hasProc) return true;
  const stat = procStat(pid);
  // no reaper reaps an orphan that died in a container whose pid 1 is not an init: a zombie
  if (stat === null || stat.state === 'Z' || stat.state === 'X') return false;
  return start === null || stat.start === start;
}

export function processStart(pid: number): string | null {
  return procStat(pid)?.start ?? null;
}

/**
 * The postmaster running on `pgdata`, from postmaster.pid (pid, dir, start, port). A stale file
 * (a killed server) may name a pid that now belongs to another process: on Linux the pid must
 * also have pgdata as its working directory, as a postmaster does.
 */
export function runningPostmaster(pgdata: string): { pid: number; port: number } | null {
  let lines: string[];
  try {
    lines = readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return null;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!pid || !port || !processAlive(pid)) return null;
  if (hasProc) {
    try {
      if (readlinkSync(`/proc/${pid}/cwd`) !== realpathSync(pgdata)) return null;
    } catch (err) {
      // EACCES: another user's process, which this one could not stop anyway; believe the file
      if ((err as NodeJS.ErrnoException).code !== 'EACCES') return null;
    }
  }
  return { pid, port };
}

/** Fast shutdown (rolls back open transactions, checkpoints, exits); SIGKILL after a grace. */
export async function haltPostmaster(pid: number, start: string | null, graceMs = 15_000): Promise<void> {
  const send = (signal: NodeJS.Signals) => {
    try {
      process.kill(pid, signal); // as root too: the server runs as `postgres`, root may signal it
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPERM') {
        throw new Error(`embedded Postgres (pid ${pid}) runs as another OS user: this process cannot stop it`);
      }
      // ESRCH: gone meanwhile
    }
  };
  if (!processAlive(pid, start)) return;
  send('SIGINT');
  const force = Date.now() + graceMs;
  let killed = false;
  // polled: an adopted postmaster is not our child, so no exit event tells when it is gone
  while (processAlive(pid, start)) {
    if (!killed && Date.now() > force) {
      send('SIGKILL');
      killed = true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stops every embedded Postgres whose data lies under `root`, whoever owns it, and returns their
 * data directories: the test wrapper's sweep for servers of test processes it had to kill.
 */
export async function stopPostmastersUnder(root: string): Promise<string[]> {
  const found: { pgdata: string; pid: number }[] = [];
  const walk = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      const path = join(dir, entry.name);
      if (entry.name === 'pgdata') {
        const running = runningPostmaster(path);
        if (running) found.push({ pgdata: path, pid: running.pid });
      } else if (depth < 4) {
        walk(path, depth + 1);
      }
    }
  };
  walk(root, 0);
  await Promise.all(found.map(({ pid }) => haltPostmaster(pid, processStart(pid))));
  return found.map(({ pgdata }) => pgdata);
}
