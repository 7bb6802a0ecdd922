// Who owns an embedded Postgres, so that no server outlives every process that could stop it.
// The launch that starts (or adopts) a server records itself in <dir>/owner.json, and only the
// process named there stops the server. A launch that finds the server under a dead owner
// (SIGKILL, a crash) adopts it; under a live one it joins without owning. A process is named by
// pid and, on Linux, its start time from /proc: a pid reused by another process is not the owner.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, processStart } from './embedded-postmaster.ts';

export interface Owner {
  pid: number;
  /** start time in clock ticks since boot (Linux), null where there is no /proc */
  start: string | null;
  /** one launch: two launches in one process are different owners */
  token: string;
  /**
   * Set while the holder decides whether to stop the server (a count of the sessions left, then
   * maybe a halt): a claim held for a moment, which others wait out instead of taking for an
   * owner that lives on (and so stops the server later). Without it, of processes leaving at
   * once, each could find another still deciding and leave the server to it.
   */
  leaving?: true;
}

export function newOwner(): Owner {
  return { pid: process.pid, start: processStart(process.pid), token: randomBytes(8).toString('hex') };
}

function ownerFile(dir: string): string {
  return join(dir, 'owner.json');
}

/** The recorded owner; 'none' without a file; null when unreadable (a torn write: nobody). */
function readOwner(file: string): Owner | null | 'none' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw err;
  }
  try {
    const o = JSON.parse(text) as Owner;
    return typeof o.pid === 'number' && typeof o.token === 'string' ? o : null;
  } catch {
    return null;
  }
}

/**
 * Removes the owner file if it still holds `token` (null: an unreadable one). Renaming it to a
 * name only this launch uses is atomic, so of two launches evicting the same dead owner one
 * moves it; when what moved is a claim made meanwhile, it goes back.
 */
function evict(dir: string, token: string | null, me: Owner): void {
  const file = ownerFile(dir);
  const aside = `${file}.${me.token}.evicted`;
  try {
    renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readOwner(aside);
  const movedToken = moved === null ? null : moved === 'none' ? undefined : moved.token;
  if (movedToken !== token) {
    try {
      linkSync(aside, file);
    } catch {
      // a third launch claimed meanwhile: it owns; the claim moved here finds at its stop that it does not
    }
  }
  rmSync(aside, { force: true });
}

/**
 * Claims the server of `dir` for `me` unless a live process holds it, and returns the holder
 * (`me` when the claim is ours). The claim appears whole: written aside, then hard-linked in,
 * which fails when a claim is there. `displace`: the token of a live holder to evict anyway.
 */
export function claimOwnership(dir: string, me: Owner, displace: string | null = null): Owner {
  const file = ownerFile(dir);
  for (let attempt = 0; attempt < 20; attempt++) {
    const mine = `${file}.${me.token}`;
    writeFileSync(mine, JSON.stringify(me), { mode: 0o600 });
    try {
      linkSync(mine, file);
      return me;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(mine, { force: true });
    }
    const holder = readOwner(file);
    if (holder === 'none') continue; // evicted meanwhile: try again
    if (holder !== null && holder.token === me.token) return me;
    if (holder !== null && holder.token !== displace && processAlive(holder.pid, holder.start)) return holder;
    evict(dir, holder?.token ?? null, me);
  }
  throw new Error(`embedded Postgres: could not settle who owns ${dir} (launches racing for it)`);
}

export function ownsServer(dir: string, me: Owner): boolean {
  const holder = readOwner(ownerFile(dir));
  return typeof holder === 'object' && holder?.token === me.token;
}

/**
 * Marks this launch's claim as leaving (see Owner.leaving); false when it holds none. The new
 * record replaces the old one whole (a rename).
 */
export function markLeaving(dir: string, me: Owner): boolean {
  if (!ownsServer(dir, me)) return false;
  const file = ownerFile(dir);
  const mine = `${file}.${me.token}.leaving`;
  writeFileSync(mine, JSON.stringify({ ...me, leaving: true }), { mode: 0o600 });
  renameSync(mine, file);
  return true;
}

export function releaseOwnership(dir: string, me: Owner): void {
  if (ownsServer(dir, me)) evict(dir, me.token, me);
}
