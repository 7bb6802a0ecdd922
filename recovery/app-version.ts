// The app version: which code a workflow was started under. Recovery only re-runs workflows of
// the current version, since a replay of other code would diverge from the recorded steps.
import { createHash } from 'node:crypto';
import type { Workflow } from '../common/workflow.ts';

/** A hash of the sorted names and source text of the registered workflows. */
export function computeAppVersion(workflows: Iterable<Workflow>): string {
  const hash = createHash('sha256');
  const sorted = [...workflows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const wf of sorted) hash.update(wf.name).update('\0').update(wf.fn.toString()).update('\0');
  return hash.digest('hex').slice(0, 32);
}
