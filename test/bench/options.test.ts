// `npm run bench`'s command line (issue 20, "Method"): a mistyped option must stop the run
// before it starts, not run it with the defaults.
import test from 'ava';
import { DEFAULT_PASSES, parseBenchOptions } from '../../bench/options.ts';

test('no options: a full run of 3 passes on the embedded server; --quick: 1 pass', (t) => {
  t.deepEqual(parseBenchOptions([]), { mode: 'full', passes: DEFAULT_PASSES.full, databaseUrl: undefined });
  t.deepEqual(parseBenchOptions(['--quick']), { mode: 'quick', passes: DEFAULT_PASSES.quick, databaseUrl: undefined });
  t.is(DEFAULT_PASSES.full, 3);
});

test('--passes and --database-url, as two arguments or with =', (t) => {
  const url = 'postgres://bench:secret@db.example:5433/postgres';
  t.deepEqual(parseBenchOptions(['--passes', '5', '--database-url', url]), { mode: 'full', passes: 5, databaseUrl: url });
  t.deepEqual(parseBenchOptions(['--quick', `--database-url=${url}`, '--passes=2']), { mode: 'quick', passes: 2, databaseUrl: url });
});

test('a bad or unknown option is refused, naming it', (t) => {
  t.throws(() => parseBenchOptions(['--passes', '0']), { message: /--passes must be a positive integer, got "0"/ });
  t.throws(() => parseBenchOptions(['--passes']), { message: /--passes needs a value/ });
  t.throws(() => parseBenchOptions(['--database-url', 'mysql://x']), { message: /--database-url must be a postgres:\/\/ URL/ });
  t.throws(() => parseBenchOptions(['--quik']), { message: /unknown option "--quik"/ });
});
