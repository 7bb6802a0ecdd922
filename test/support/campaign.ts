// The crash campaign: healthy workflows (some waiting for a message), large payloads and poison
// workflows run together while random threads are killed. Shared by the test (small) and the
// benchmark (large, bench/campaign.ts). What must hold: no healthy workflow is dead-lettered or
// lost, and no checkpointed step runs again.
import type { Skein, WorkflowHandle } from '../../runtime/index.ts';
import { badError, heavy, poison, steady } from '../fixtures/poison.ts';
import { count } from './counters.ts';

export interface CampaignSize {
  /** healthy workflows of `steps` steps; every fourth waits for a message half-way */
  healthy: number;
  steps: number;
  stepMs: number;
  /** workflows whose one step returns `largeMb` megabytes */
  large: number;
  largeMb: number;
  /** always-crashing workflows, and workflows throwing an error that cannot be encoded */
  poison: number;
  /** thread kills to aim for */
  kills: number;
  seed: number;
}

export interface CampaignReport {
  workflows: number;
  kills: number;
  /** healthy or large workflows that ended other than SUCCESS (must be 0) */
  healthyFailed: number;
  /** of those, dead-lettered (must be 0) */
  healthyDeadLettered: number;
  /** steps that ran although their checkpoint was recorded (must be 0) */
  rerunCheckpointedSteps: number;
  /** poison workflows that ended as they must: dead-lettered, or ERROR for the bad error */
  poisonContained: number;
  poisonTotal: number;
  seconds: number;
}

/** A seeded generator, so a failing campaign can be replayed. */
export function seeded(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

/**
 * Kills the thread of a random workflow of `pending` (those on no thread, backing off or
 * finished, are skipped quickly), then waits 50-250 ms. Resolves whether it killed one.
 */
export async function killOne(skein: Skein, pending: Set<string>, random: () => number): Promise<boolean> {
  const ids = [...pending];
  try {
    await skein.killThread(ids[Math.floor(random() * ids.length)]!);
  } catch {
    await new Promise((r) => setTimeout(r, 10));
    return false;
  }
  await new Promise((r) => setTimeout(r, 50 + random() * 200));
  return true;
}

export async function runCampaign(skein: Skein, size: CampaignSize): Promise<CampaignReport> {
  const t0 = performance.now();
  const violationsBefore = await count('violations');
  const random = seeded(size.seed);
  const healthy: WorkflowHandle<number>[] = [];
  const receivers: WorkflowHandle<number>[] = [];
  for (let i = 0; i < size.healthy; i++) {
    const recv = i % 4 === 0;
    const h = await skein.start(steady, { steps: size.steps, stepMs: size.stepMs, recv });
    healthy.push(h);
    if (recv) receivers.push(h);
  }
  for (let i = 0; i < size.large; i++) healthy.push(await skein.start(heavy, { mb: size.largeMb }));
  const poisons: { handle: WorkflowHandle<unknown>; ends: string }[] = [];
  for (let i = 0; i < size.poison; i++) {
    poisons.push({ handle: await skein.start(poison, { key: `campaign-${size.seed}-${i}` }), ends: 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' });
    poisons.push({ handle: await skein.start(badError, undefined), ends: 'ERROR' });
  }
  const pending = new Set(healthy.map((h) => h.id));
  const settled = Promise.allSettled(
    [...healthy, ...poisons.map((p) => p.handle)].map((h) => h.result().finally(() => pending.delete(h.id))),
  );

  let kills = 0;
  let sent = false;
  for (const until = Date.now() + 300_000; pending.size > 0 && Date.now() < until; ) {
    if (kills < size.kills) {
      if (await killOne(skein, pending, random)) kills++;
    } else {
      await new Promise((r) => setTimeout(r, 50));
    }
    // the receivers get their message once half the kills are done
    if (!sent && kills >= size.kills / 2) {
      sent = true;
      await Promise.all(receivers.map((h) => skein.send(h.id, 1000, 'go')));
    }
  }
  if (!sent) await Promise.all(receivers.map((h) => skein.send(h.id, 1000, 'go')));
  await settled;

  const statuses = await skein.listWorkflows({ ids: [...healthy, ...poisons.map((p) => p.handle)].map((h) => h.id) });
  const byId = new Map(statuses.map((s) => [s.id, s.status]));
  const failed = healthy.filter((h) => byId.get(h.id) !== 'SUCCESS');
  return {
    workflows: healthy.length + poisons.length,
    kills,
    healthyFailed: failed.length,
    healthyDeadLettered: failed.filter((h) => byId.get(h.id) === 'MAX_RECOVERY_ATTEMPTS_EXCEEDED').length,
    rerunCheckpointedSteps: (await count('violations')) - violationsBefore,
    poisonContained: poisons.filter((p) => byId.get(p.handle.id) === p.ends).length,
    poisonTotal: poisons.length,
    seconds: (performance.now() - t0) / 1000,
  };
}
