// Workload 1's shape in rounds of one process, with Postgres's view of each round: N concurrent
// 3-step workflows a round after a warm-up of 400, and per round the throughput, this process's
// CPU per workflow, the main loop's p99, and the statements Postgres spent most time in
// (pg_stat_statements, reset between rounds). The embedded server runs with
// pg_stat_statements loaded. `--analyze` runs ANALYZE on the busiest tables after the warm-up.
// This is how the writer's blind plans were found (bench/PROFILES.md): before the fixes,
// alternate rounds ran at half speed with the finishing flush at 4-6 ms mean.
// Run: npx tsx bench/flush-rounds.ts [N] [workflowsPerThread] [rounds] [--analyze]
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { silentLogger } from '../common/logger.ts';
import { Skein } from '../runtime/index.ts';
import { startEmbeddedPostgres } from '../storage/embedded.ts';
import { measured } from './measured.ts';
import { noopRounds } from './rounds.ts';

const analyze = process.argv.includes('--analyze');
const [N = 2000, perThread = 32, rounds = 6] = process.argv.slice(2).filter((a) => !a.startsWith('--')).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'skein-flush-rounds-'));
chmodSync(dir, 0o755);
const server = await startEmbeddedPostgres(join(dir, 'db'), { logger: silentLogger, settings: { shared_preload_libraries: 'pg_stat_statements' } });
const admin = new pg.Client({ connectionString: server.url });
try {
  await admin.connect();
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  const skein = await Skein.launch({ workflows: new URL('./workflows.ts', import.meta.url), databaseUrl: server.url, workflowsPerThread: perThread });
  const round = noopRounds(skein);
  await round(400);
  if (analyze) await admin.query('ANALYZE skein.workflow_status, skein.steps');
  console.log(`flush-rounds: ${rounds} rounds of ${N} concurrent 3-step workflows, workflowsPerThread ${perThread}${analyze ? ', tables analyzed after the warm-up' : ''}`);
  for (let r = 0; r < rounds; r++) {
    await admin.query('SELECT pg_stat_statements_reset()');
    const m = await measured(() => round(N));
    console.log(
      `round ${r}: ${(N / m.seconds).toFixed(0)} workflows/s, node ${((m.cpuSeconds * 1e6) / N).toFixed(0)} us CPU a workflow, loop p99 ${m.loopP99Ms.toFixed(1)} ms`,
    );
    const top = await admin.query(
      `SELECT calls, round(total_exec_time::numeric) AS total_ms, round(mean_exec_time::numeric, 2) AS mean_ms,
         (SELECT string_agg(m[1], '+') FROM regexp_matches(query, '(\\w+)_out AS', 'g') AS m) AS kinds, left(query, 60) AS query
       FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 4`,
    );
    for (const s of top.rows) console.log(`  ${String(s.total_ms).padStart(6)} ms in ${String(s.calls).padStart(4)} calls, mean ${s.mean_ms} ms: ${s.kinds ?? s.query.replace(/\s+/g, ' ')}`);
  }
  await skein.shutdown();
} finally {
  await admin.end().catch(() => {});
  await server.stop({ force: true });
  rmSync(dir, { recursive: true, force: true });
}
