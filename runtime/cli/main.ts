#!/usr/bin/env node
// `skein`, the command line (package.json "bin"): the program's global options, its commands,
// and how it ends. Exit status 0 on success; 1 on any failure, with one line `skein: <reason>`
// on stderr (and the stack with --debug). The commands live in files named after them.
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboardCommand } from './dashboard.ts';
import { executorCommands } from './executor.ts';
import { oneLine } from './format.ts';
import { migrateCommand } from './migrate.ts';
import { schemaName } from './parse.ts';
import { queueCommands } from './queue.ts';
import { scheduleCommands } from './schedule.ts';
import { workflowCommands } from './workflow.ts';

const DATABASE_HELP = `
The database: --db, else SKEIN_DATABASE_URL, else DATABASE_URL, else the embedded Postgres
whose data is in --data-dir (default .skein in the working directory), which it joins if a
process runs it, or starts and stops again. Times are shown in UTC.

Exit status: 0 on success, 1 on any failure (one line on stderr saying why).

Examples:
  skein workflow list --status ERROR --since 1h
  skein workflow steps order-42
  skein workflow fork order-42 --start-step 3 --app-version v2
  skein queue list --json
  skein dashboard --port 3210`;

/** This package's version, from the package.json above this file (in the source or in dist/). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'skein' && pkg.version) return pkg.version;
    } catch {
      // none here: look further up
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

function program(): Command {
  const skein = new Command('skein')
    .description('inspect and manage skein workflows, queues, schedules and executors')
    .version(version(), '-V, --version', 'print the version')
    .option('--db <url>', 'Postgres URL (default: SKEIN_DATABASE_URL, then DATABASE_URL, then the embedded Postgres)')
    .option('--data-dir <dir>', 'data directory of the embedded Postgres', '.skein')
    .option('--schema <name>', "schema of skein's tables", schemaName, 'skein')
    .option('--json', 'print JSON: one array for lists, one object otherwise')
    .option('--verbose', 'debug log lines on stderr')
    .option('--debug', 'print the stack of a failure')
    .addHelpText('after', DATABASE_HELP)
    .configureHelp({ showGlobalOptions: true })
    .exitOverride()
    .configureOutput({
      // commander's own errors (an unknown command, a bad option value) as our one line
      outputError: (text, write) => write(`skein: ${oneLine(text.replace(/^error: /, '')).trim()}\n`),
    });
  // commands added after exitOverride and configureOutput inherit them: every one ends in
  // main's catch, with the same one-line errors
  workflowCommands(skein);
  queueCommands(skein);
  scheduleCommands(skein);
  executorCommands(skein);
  migrateCommand(skein);
  dashboardCommand(skein);
  return skein;
}

async function main(argv: string[]): Promise<number> {
  const skein = program();
  try {
    await skein.parseAsync(argv);
    return 0;
  } catch (err) {
    // commander printed its own message (or the help) already
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`skein: ${oneLine(message).trim()}\n`);
    if (skein.opts().debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

// output piped into `head`: a closed pipe ends the command quietly
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
process.exitCode = await main(process.argv);
