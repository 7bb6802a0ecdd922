// How a figure of `npm run bench` sums its passes up (issue 20, "Method"): the median, with the
// spread beside it, so one noisy pass on a shared machine shows instead of deciding.
import test from 'ava';
import { cell, median, perPass } from '../../bench/figures.ts';

test('a cell is the median of the passes with their spread; one pass has none', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 2, 3]), 2.5);
  t.is(cell([1670, 1580, 1702]), '1670 (1580-1702)');
  t.is(cell([9.2]), '9.20');
  t.is(cell([]), '');
});

test('a column that did not measure a workload has no figures for it', (t) => {
  const passes = [{ concurrent: { workflowsPerSecond: 10 } }, { concurrent: { workflowsPerSecond: 12 } }];
  t.deepEqual(perPass(passes, 'concurrent', 'workflowsPerSecond'), [10, 12]);
  t.deepEqual(perPass(passes, 'sleep', 'startSeconds'), []);
});
