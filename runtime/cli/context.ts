// What every command's action gets: the global options (given before or after the command), a
// logger on stderr, and its output on stdout, as a table for a person or one JSON value.
import type { Command } from 'commander';
import { defaultLogger, type Logger } from '../../common/logger.ts';
import type { Client } from '../client.ts';
import { withClient } from './database.ts';
import { jsonable, table, type Column } from './format.ts';

export interface GlobalOptions {
  db?: string;
  dataDir: string;
  schema: string;
  json?: boolean;
  verbose?: boolean;
  debug?: boolean;
}

export interface Cli {
  readonly options: GlobalOptions;
  /** debug lines with --verbose, else warnings and errors only */
  readonly logger: Logger;
  /** With --json, `value` as one JSON document; else what `human` writes. */
  show(value: unknown, human: () => string): void;
  /** With --json, `rows` as one JSON array; else a table of them, or `empty` when there are none. */
  list<R>(rows: readonly R[], columns: readonly Column<R>[], empty: string, footer?: string): void;
}

function cliOf(command: Command): Cli {
  const options = command.optsWithGlobals<GlobalOptions>();
  return {
    options,
    logger: defaultLogger(options.verbose ? 'debug' : 'warn'),
    show(value, human) {
      const text = options.json ? JSON.stringify(jsonable(value), null, 2) : human();
      process.stdout.write(`${text}\n`);
    },
    list(rows, columns, empty, footer) {
      this.show(rows, () => (rows.length === 0 ? empty : `${table(rows, columns)}${footer ? `\n${footer}` : ''}`));
    },
  };
}

/**
 * A commander action from `fn(cli, options, ...arguments)`: commander calls actions with the
 * command's arguments, then its options, then the command itself.
 */
export function action<O, A extends string[] = []>(fn: (cli: Cli, options: O, ...args: A) => Promise<void>) {
  return (...params: unknown[]): Promise<void> => {
    const command = params[params.length - 1] as Command;
    const options = params[params.length - 2] as O;
    return fn(cliOf(command), options, ...(params.slice(0, -2) as A));
  };
}

/** `<parent> list`: rows read through a Client, shown as a table (or --json). */
export function listCommand<R>(
  parent: Command,
  description: string,
  read: (client: Client) => Promise<R[]>,
  columns: readonly Column<R>[],
  empty: string,
): void {
  parent
    .command('list')
    .description(description)
    .action(action(async (cli) => cli.list(await withClient(cli, read), columns, empty)));
}
