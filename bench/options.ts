// The command line of `npm run bench`: [--quick] [--passes N] [--database-url URL]. Anything
// else is refused with a message naming it, so a mistyped option never runs a 45-minute
// benchmark with the defaults it meant to change.

export interface BenchOptions {
  mode: 'full' | 'quick';
  /** alternating passes of each variant; each figure is their median */
  passes: number;
  /** an external server (its maintenance database); without it, a throwaway embedded one */
  databaseUrl?: string;
}

/**
 * Passes when --passes is not given. Three in a full run, so one noisy pass on a shared machine
 * shows in the spread instead of deciding the median; one in a quick run, which is a check of
 * the harness that must stay within a few minutes.
 */
export const DEFAULT_PASSES = { full: 3, quick: 1 } as const;

export const USAGE = 'usage: npm run bench -- [--quick] [--passes N] [--database-url postgres://user:password@host:port/postgres]';

export function parseBenchOptions(argv: string[]): BenchOptions {
  let quick = false;
  let passes: number | undefined;
  let databaseUrl: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${name} needs a value; ${USAGE}`);
      return v;
    };
    if (name === '--quick' && inline === undefined) quick = true;
    else if (name === '--passes') {
      const v = value();
      passes = Number(v);
      if (!Number.isSafeInteger(passes) || passes < 1) throw new Error(`--passes must be a positive integer, got ${JSON.stringify(v)}`);
    } else if (name === '--database-url') {
      databaseUrl = value();
      if (!/^postgres(ql)?:\/\//.test(databaseUrl)) throw new Error(`--database-url must be a postgres:// URL, got one starting ${JSON.stringify(databaseUrl.slice(0, 12))}`);
    } else throw new Error(`unknown option ${JSON.stringify(arg)}; ${USAGE}`);
  }
  const mode = quick ? 'quick' : 'full';
  return { mode, passes: passes ?? DEFAULT_PASSES[mode], databaseUrl };
}
