// The `skein` command line as a user runs it: the built bin (dist/, so `npm run build` first) in
// a child process of plain node, with its exit status, stdout and stderr.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const cliPath = fileURLToPath(new URL('../../dist/runtime/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** the command and all it printed, for failure messages */
  output: string;
}

/** This process's environment without a database URL: the CLI then looks for an embedded Postgres. */
export function envWithoutDatabase(): NodeJS.ProcessEnv {
  const { SKEIN_DATABASE_URL: _s, DATABASE_URL: _d, ...env } = process.env;
  return env;
}

/**
 * Runs `skein <args>`; killed after `timeoutMs` (a bound that catches a hang, not a speed
 * check: an embedded start takes seconds on a loaded machine).
 */
export function skeinCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 90_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, output: `$ skein ${args.join(' ')}\n${stdout}${stderr}` });
      },
    );
  });
}

/** The lines of a table's column `header`, by row (the header row first). */
export function column(table: string, header: string): string[] {
  const lines = table.trimEnd().split('\n');
  const start = lines[0]!.indexOf(header);
  if (start < 0) throw new Error(`no column ${header} in:\n${table}`);
  return lines.map((l) => l.slice(start).split(/\s{2,}/)[0]!.trim());
}
