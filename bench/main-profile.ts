// The main thread's CPU profile over measured rounds of workload 1's shape, and nothing else:
// `node --cpu-prof` would also take the launch and the warm-up. Opens in Chrome DevTools
// (Performance, load profile) or any .cpuprofile reader.
// Run: npx tsx bench/main-profile.ts [N] [workflowsPerThread] [rounds] [out.cpuprofile]
// (bench/PROFILES.md: 2000 32 1).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Skein } from '../runtime/index.ts';
import { measured } from './measured.ts';
import { noopRounds } from './rounds.ts';
import { withBenchPostgres } from './server.ts';

const [n = '2000', perThread = '32', rounds = '1', out = 'main.cpuprofile'] = process.argv.slice(2);
const N = Number(n);

await withBenchPostgres(async (server) => {
  const skein = await Skein.launch({ workflows: new URL('./workflows.ts', import.meta.url), databaseUrl: server.url, workflowsPerThread: Number(perThread) });
  const round = noopRounds(skein);
  await round(400);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  for (let r = 0; r < Number(rounds); r++) {
    const m = await measured(() => round(N));
    console.log(
      `${(N / m.seconds).toFixed(0)} workflows/s; loop p99 ${m.loopP99Ms.toFixed(1)} ms, max ${m.loopMaxMs.toFixed(1)} ms; ` +
        `node ${((m.cpuSeconds / N) * 1e6).toFixed(0)} us of CPU per workflow`,
    );
  }
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(out, JSON.stringify(profile));
  console.log(`main thread's profile: ${out}`);
  session.disconnect();
  await skein.shutdown();
});
