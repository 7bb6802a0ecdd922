// Issue 11, point 7: `npm run bench -- --quick` (and burst.ts, parking.ts with --quick) must not
// overwrite the committed full reports: a quick run's report goes under the git-ignored bench/quick/.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { reportFile } from '../../bench/report.ts';

const bench = fileURLToPath(new URL('../../bench/', import.meta.url));

test('a full run writes the committed report; a quick run writes under bench/quick/, which git ignores', (t) => {
  for (const name of ['RESULTS.md', 'BURST.md', 'PARKING.md']) {
    t.is(reportFile(name, false), `${bench}${name}`);
    const quick = reportFile(name, true);
    t.is(quick, `${bench}quick/${name}`);
    // exit status 0: ignored (1 would mean a quick report could be committed by mistake)
    t.notThrows(() => execFileSync('git', ['check-ignore', '-q', quick], { cwd: bench }), name);
  }
});
