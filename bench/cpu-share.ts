// Where the CPU of workload 1's shape goes: rounds of N concurrent 3-step no-op workflows (after
// a warm-up), each reporting workflows/s, the main thread's event-loop delay, and the CPU time
// per workflow of this process (main and worker threads) and of the Postgres server's processes
// (from /proc, so Linux only). On 2 cores the sum shows whether the machine, not skein's code
// path, is the limit. Run: npx tsx bench/cpu-share.ts [N] [workflowsPerThread] [rounds]
// (bench/PROFILES.md: 2,000 at 32, 3 rounds).
import { readdirSync, readFileSync } from 'node:fs';
import { Skein } from '../runtime/index.ts';
import { withBenchPostgres } from './server.ts';
import { measured } from './measured.ts';
import { noopRounds } from './rounds.ts';

const [N = 2000, perThread = 32, rounds = 3] = process.argv.slice(2).map(Number);
/** clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux) */
const USER_HZ = 100;

/** CPU seconds used so far by the processes named postgres (the embedded server's). */
function postgresCpuSeconds(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) continue;
      // fields after the command's closing parenthesis; utime and stime are the 12th and 13th
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended between the listing and the read
    }
  }
  return ticks / USER_HZ;
}

await withBenchPostgres(async (server) => {
  const skein = await Skein.launch({ workflows: new URL('./workflows.ts', import.meta.url), databaseUrl: server.url, workflowsPerThread: perThread });
  const round = noopRounds(skein);
  await round(400);
  console.log(`cpu-share: ${N} concurrent 3-step workflows, workflowsPerThread ${perThread}, ${rounds} rounds after a warm-up of 400`);
  for (let r = 0; r < rounds; r++) {
    const pg0 = postgresCpuSeconds();
    const { seconds, cpuSeconds: nodeSeconds, loopP99Ms, loopMaxMs } = await measured(() => round(N));
    const pgSeconds = postgresCpuSeconds() - pg0;
    console.log(
      `  ${(N / seconds).toFixed(0)} workflows/s; loop p99 ${loopP99Ms.toFixed(1)} ms, max ${loopMaxMs.toFixed(1)} ms; ` +
        `CPU per workflow: node ${((nodeSeconds / N) * 1e6).toFixed(0)} us, Postgres ${((pgSeconds / N) * 1e6).toFixed(0)} us; ` +
        `cores busy: node ${(nodeSeconds / seconds).toFixed(2)}, Postgres ${(pgSeconds / seconds).toFixed(2)}`,
    );
  }
  await skein.shutdown();
});
