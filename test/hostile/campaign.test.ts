// Issue 10, acceptance: a small crash campaign in every test run. Random thread kills, poison
// workflows and large payloads together: no healthy workflow dead-lettered or lost, no
// checkpointed step run again. (bench/campaign.ts runs the large one.)
import test from 'ava';
import { launch } from '../support/helpers.ts';
import { runCampaign } from '../support/campaign.ts';

test('crash campaign: kills, poison and large payloads cost healthy workflows nothing', async (t) => {
  t.timeout(300_000);
  const skein = await launch(t, { workflows: new URL('../fixtures/poison.ts', import.meta.url), threads: 2 });
  const report = await runCampaign(skein, {
    healthy: 60, steps: 6, stepMs: 20, large: 6, largeMb: 4, poison: 2, kills: 25, seed: 7,
  });
  t.log(JSON.stringify(report));
  t.true(report.kills >= 15, `${report.kills} kills`);
  t.is(report.healthyDeadLettered, 0);
  t.is(report.healthyFailed, 0);
  t.is(report.rerunCheckpointedSteps, 0);
  t.is(report.poisonContained, report.poisonTotal, 'every poison workflow ended as it must');
});
