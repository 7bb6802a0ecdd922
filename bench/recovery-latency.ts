// Time from killThread to the killed workflow running again, median over N kills. Kills are
// 1 s apart, so the replacement of the previous dead thread has booted: crashes are isolated
// events, and back-to-back kills would measure thread boot instead.
// Run: npx tsx bench/recovery-latency.ts [N]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Skein } from '../runtime/index.ts';
import { withBenchPostgres } from './server.ts';
import { hangOnce } from './workflows.ts';

const N = Number(process.argv[2] ?? 20);
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

await withBenchPostgres(async (server) => {
  for (const threads of [1, 2]) {
    console.log(`recovery-latency: ${N} kills, ${threads} thread(s), default durability`);
    const skein = await Skein.launch({
      workflows: new URL('./workflows.ts', import.meta.url),
      databaseUrl: server.url,
      threads,
    });
    const dir = mkdtempSync(join(tmpdir(), 'skein-latency-'));
    const latencies: number[] = [];
    for (let i = 0; i < N; i++) {
      const marker = join(dir, `m${i}`);
      const handle = await skein.start(hangOnce, { marker });
      while (!existsSync(marker)) await new Promise((r) => setTimeout(r, 1));
      const killedAt = Date.now();
      await skein.killThread(handle.id);
      latencies.push((await handle.result()) - killedAt);
      await new Promise((r) => setTimeout(r, 1000));
    }
    console.log(
      `  kill -> running again: median ${quantile(latencies, 0.5)} ms, p90 ${quantile(latencies, 0.9)} ms, ` +
        `max ${Math.max(...latencies)} ms`,
    );
    rmSync(dir, { recursive: true, force: true });
    await skein.shutdown();
  }
});
