// piscina stops replacing threads for good once one dies before it is ready
// (workerFailsDuringBootstrap); startMissingThreads brings the pool back to its size, which the
// dispatcher does after every thread death that left the pool short (issue 11, point 1).
// Serial: the marker file breaks the threads of every pool of this file that start meanwhile.
import test, { type ExecutionContext } from 'ava';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { startMissingThreads } from '../../runtime/balancer.ts';
import { unique, waitFor } from '../support/helpers.ts';

const marker = join(tmpdir(), `${unique('skein-boot')}.marker`);
process.env.SKEIN_TEST_BOOT_MARKER = marker;

/** A pool of `min` to `max` threads, set up as skein's, whose balancer refuses while `refusing()`. */
function bootPool(t: ExecutionContext, min: number, max: number, refusing: () => boolean): Piscina {
  const pool = new Piscina({
    filename: new URL('../fixtures/boot-exit-worker.mjs', import.meta.url).href,
    minThreads: min,
    maxThreads: max,
    atomics: 'disabled',
    idleTimeout: Infinity,
    loadBalancer: (_task, workers) => (refusing() ? null : workers.find((w) => !w.terminating && !w.destroyed) ?? null),
  });
  pool.on('error', () => {});
  t.teardown(() => pool.destroy());
  return pool;
}

test.serial('a pool that stopped replacing threads gets them back', async (t) => {
  let refusing = false;
  // one thread, so the task that ran proves it loaded before the marker exists
  const pool = bootPool(t, 1, 1, () => refusing);
  t.teardown(() => rmSync(marker, { force: true }));
  t.is(await pool.run({}), 'ran');

  writeFileSync(marker, '');
  await pool.threads[0]!.terminate(); // its replacement dies as it starts (however long that takes under load)
  await waitFor(() => pool.threads.length === 0, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  t.is(pool.threads.length, 0, 'piscina replaced the thread after all: this test shows nothing');
  rmSync(marker);
  startMissingThreads(pool, 1, (on) => (refusing = on));
  await waitFor(() => pool.threads.length === 1, 10_000);
  t.is(await pool.run({}), 'ran');

  // a thread that was ready dies: piscina no longer replaces it either (it removes and replaces
  // in one go, so the pool is never seen empty when it does)
  await pool.threads[0]!.terminate();
  await waitFor(() => pool.threads.length === 0, 10_000);
  startMissingThreads(pool, 1, (on) => (refusing = on));
  await waitFor(() => pool.threads.length === 1, 10_000);
  t.is(await pool.run({}), 'ran');
});

test.serial('the empty task is refused by every thread, so piscina starts one instead of running it', async (t) => {
  let refusing = false;
  let offered = 0;
  const pool = bootPool(t, 1, 2, () => (offered++, refusing));
  t.is(await pool.run({}), 'ran');
  const before = offered;
  startMissingThreads(pool, 2, (on) => (refusing = on));
  t.true(offered > before, 'the balancer was not asked');
  await waitFor(() => pool.threads.length === 2, 10_000);
  // withdrawn before any thread could take it: nothing is left queued
  await new Promise((r) => setTimeout(r, 500));
  t.is(pool.queueSize, 0);
  t.is(pool.completed, 1);
});
