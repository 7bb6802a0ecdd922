// Child processes of the many-process tests (issue 16): each runs test/fixtures/many-child.ts, a
// Skein on the test database, until told to shut down or SIGKILLed. A test talks to them over IPC
// (start workflows there, list executors as they see them) and kills them for real.
import type { ExecutionContext } from 'ava';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { ChildMessage, ChildRequest } from '../fixtures/many-child.ts';
import { sql, testDatabase, unique, waitFor } from './helpers.ts';

type Ready = Extract<ChildMessage, { kind: 'ready' }>;
type Failed = Extract<ChildMessage, { kind: 'failed' }>;
type Reply = Extract<ChildMessage, { kind: 'reply' }>;
type Ask = ChildRequest extends infer R ? (R extends ChildRequest ? Omit<R, 'req'> : never) : never;

export interface ManyChild {
  process: ChildProcess;
  pid: number;
  executorId: string;
  appVersion: string;
  /** resolves when the process has exited, however */
  exited: Promise<unknown>;
  /** sends a request and resolves with the child's answer (rejects with its error) */
  ask<T = unknown>(request: Ask, timeoutMs?: number): Promise<T>;
  /** SIGKILL, then waits for the exit */
  kill(): Promise<void>;
  /** a graceful shutdown; resolves once the process exited */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  /** a file of test/fixtures (default many.ts) */
  module?: string;
  /** added to the child's environment */
  env?: Record<string, string>;
}

/** Starts many-child.ts; killed when the test ends, unless it exited before. */
export async function spawnManyChild(
  t: ExecutionContext,
  config: Record<string, unknown>,
  opts: SpawnOptions = {},
): Promise<{ child: ChildProcess; first: Promise<Ready | Failed> }> {
  const child = fork(
    new URL('../fixtures/many-child.ts', import.meta.url),
    [await testDatabase(), opts.module ?? 'many.ts', JSON.stringify(config)],
    {
      execArgv: ['--import=tsx'],
      // launch logs at info would be noise from a dozen children: warnings and errors only
      env: { ...process.env, SKEIN_LOG: process.env.SKEIN_LOG ?? 'warn', ...opts.env },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const first = new Promise<Ready | Failed>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the child did not say ready within 120 s')), 120_000);
    child.once('message', (m: ChildMessage) => {
      clearTimeout(timer);
      if (m.kind === 'ready' || m.kind === 'failed') resolve(m);
      else reject(new Error(`the child said ${JSON.stringify(m)} first`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the child exited (${signal ?? `code ${code}`}) before it said ready`));
    });
  });
  first.catch(() => {});
  return { child, first };
}

/** Starts a child Skein and resolves once it launched (fails if its launch failed). */
export async function startManyChild(
  t: ExecutionContext,
  config: Record<string, unknown>,
  opts: SpawnOptions = {},
): Promise<ManyChild> {
  const { child, first } = await spawnManyChild(t, config, opts);
  const exited = once(child, 'exit');
  exited.catch(() => {});
  const ready = await first;
  if (ready.kind !== 'ready') throw new Error(`the child's launch failed: ${ready.name}: ${ready.message}`);
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (m: ChildMessage) => {
    if (m.kind !== 'reply') return;
    const p = pending.get(m.req);
    if (!p) return;
    pending.delete(m.req);
    if (m.ok) p.resolve(m.value);
    else p.reject(Object.assign(new Error(`${m.name}: ${m.message}`), { childName: m.name }));
  });
  child.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`the child exited (${signal ?? `code ${code}`}) before it answered`));
    pending.clear();
  });
  const ask = <T>(request: Ask, timeoutMs = 60_000): Promise<T> => {
    const req = ++next;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(req);
        reject(new Error(`the child did not answer ${request.op} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(req, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      child.send({ ...request, req } as ChildRequest);
    });
  };
  return {
    process: child,
    pid: ready.pid,
    executorId: ready.executorId,
    appVersion: ready.appVersion,
    exited,
    ask,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      await ask({ op: 'shutdown' });
      await exited;
    },
  };
}

/**
 * Starts `n` three-step `manySteps` workflows on `child` (direct starts, IDs `<prefix><i>`), the
 * middle step `longMs` long, and resolves once every one of them is in that step: a kill then
 * lands mid-step.
 */
export async function startInLongStep(child: ManyChild, tag: string, n: number, longMs: number): Promise<{ prefix: string; ids: string[] }> {
  const prefix = `${unique(tag)}-`;
  const items = Array.from({ length: n }, (_, i) => ({ input: { i, steps: 3, stepMs: [20, longMs, 20] }, opts: { id: `${prefix}${i}` } }));
  const ids = await child.ask<string[]>({ op: 'start', workflow: 'manySteps', items });
  await waitFor(
    async () => (await sql('SELECT 1 FROM many_runs WHERE starts_with(workflow_id, $1) AND step = 1', [prefix])).length === n,
    60_000,
    `the ${n} workflows running step 1`,
  );
  return { prefix, ids };
}
