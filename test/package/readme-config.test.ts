// The README's Configuration table and its Tuning headings state skein's defaults; the code
// decides them (runtime/config.ts). A default changed by measurement (workflowsPerThread went
// 8 -> 32 -> 64) must change both, or the README tells users a figure the code does not use.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolveConfig } from '../../runtime/config.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const resolved = resolveConfig({ workflows: new URL('../fixtures/workflows.ts', import.meta.url) });

/** The "default" cell of the Configuration table's row for `option`. */
function tableDefault(option: string): string {
  const row = new RegExp(`^\\| \`${option}\` \\| ([^|]*) \\|`, 'm').exec(readme);
  if (!row) throw new Error(`README's Configuration table has no row for ${option}`);
  return row[1]!.trim();
}

/** The first number in `text`, with its thousands spaces ("10 000") closed up. */
function numberIn(text: string): number {
  const m = /\d[\d ]*/.exec(text);
  if (!m) throw new Error(`no number in "${text}"`);
  return Number(m[0].replace(/ /g, ''));
}

test('the Configuration table states the defaults the code resolves', (t) => {
  t.is(numberIn(tableDefault('workflowsPerThread')), resolved.workflowsPerThread);
  t.is(numberIn(tableDefault('parkAfterMs')), resolved.parkAfterMs);
  t.is(numberIn(tableDefault('safetyPollMs')), resolved.safetyPollMs);
  t.is(numberIn(tableDefault('connectTimeoutMs')), resolved.connectTimeoutMs);
  t.is(numberIn(tableDefault('stepKillGraceMs')), resolved.stepKillGraceMs);
  t.is(numberIn(tableDefault('takeover')), resolved.leaseMs, 'the takeover lease');
  t.regex(tableDefault('takeover'), /^`true`/);
  t.true(resolved.takeover);
  t.is(tableDefault('recover'), '`true`');
  t.true(resolved.recover);
  t.is(tableDefault('schema'), `\`${resolved.schema}\``);
  t.is(tableDefault('threads'), 'available cores');
  t.is(resolved.threads, availableParallelism());
  const pool = /`poolSize` \(default (\d+)\)/.exec(readme);
  t.is(Number(pool?.[1]), resolved.datasources.app!.poolSize, 'a datasource pool per thread');
});

test("the Tuning section's headings name the same defaults", (t) => {
  t.is(Number(/\*\*`workflowsPerThread` \((\d+)\)\.\*\*/.exec(readme)?.[1]), resolved.workflowsPerThread);
  t.is(Number(/\*\*`parkAfterMs` \((\d+)\)\.\*\*/.exec(readme)?.[1]), resolved.parkAfterMs);
});
