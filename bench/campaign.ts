// The large crash campaign (issue 10), skein only: DBOS runs workflows on its main thread and has
// no thread to kill. Healthy workflows (a quarter waiting for a message), 10 MB step results and
// poison workflows run together at skein's defaults while random worker threads are killed.
// Run as a child of bench/run.ts: tsx bench/campaign.ts <databaseUrl> <mode>
import pg from 'pg';
import { Skein } from '../runtime/index.ts';
import { runCampaign, type CampaignSize } from '../test/support/campaign.ts';

export const CAMPAIGN: Record<'full' | 'quick', CampaignSize> = {
  full: { healthy: 1000, steps: 10, stepMs: 5, large: 40, largeMb: 10, poison: 10, kills: 150, seed: 2026 },
  quick: { healthy: 200, steps: 6, stepMs: 5, large: 10, largeMb: 10, poison: 4, kills: 40, seed: 2026 },
};

if (process.send) {
  const [databaseUrl, mode] = process.argv.slice(2) as [string, 'full' | 'quick'];
  // the fixtures count step runs in this table (test/support/counters.ts)
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query('CREATE TABLE IF NOT EXISTS test_counters (key text PRIMARY KEY, n integer NOT NULL)');
  await admin.end();
  process.env.SKEIN_TEST_DB = databaseUrl;
  const skein = await Skein.launch({ workflows: new URL('../test/fixtures/poison.ts', import.meta.url), databaseUrl });
  const report = await runCampaign(skein, CAMPAIGN[mode]);
  await skein.shutdown();
  process.send(report, () => process.exit(0));
}
