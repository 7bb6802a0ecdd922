// Where skein's log lines go (SkeinConfig.logger; README, Configuration). The default prints
// readable lines on stderr from the level SKEIN_LOG names (debug|info|warn|error, default
// info), or one JSON object a line with SKEIN_LOG=json. A pino or console logger fits as is.

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/** The default logger, as SKEIN_LOG sets it up. */
export function defaultLogger(setting = process.env.SKEIN_LOG): Logger {
  const wanted = (setting ?? '').trim().toLowerCase();
  const json = wanted === 'json';
  const min = LEVELS.indexOf((LEVELS as readonly string[]).includes(wanted) ? (wanted as Level) : 'info');
  const line = (level: Level) => (message: string, fields?: LogFields) => {
    if (LEVELS.indexOf(level) < min) return;
    if (json) {
      process.stderr.write(`${JSON.stringify({ ...fields, time: new Date().toISOString(), level, msg: message })}\n`);
    } else {
      const extra = fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : '';
      process.stderr.write(`${level === 'info' ? '' : `${level}: `}${message}${extra}\n`);
    }
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** Drops every line: for throwaway servers in tests and benchmarks, never a default. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** `logger` with `fields` added to every line (a caller's own fields win): a scope, as graphile-worker's. */
export function withFields(logger: Logger, fields: LogFields): Logger {
  const scoped = (level: keyof Logger) => (message: string, own?: LogFields) => logger[level](message, { ...fields, ...own });
  return { debug: scoped('debug'), info: scoped('info'), warn: scoped('warn'), error: scoped('error') };
}

/** An error as a log field: its message, without a stack (one line per event). */
export function errorField(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** A logger given as an option (checked by common/options.ts), its methods bound. */
export function boundLogger(logger: Logger): Logger {
  // bound, so a logger whose methods use `this` (pino, console) works when passed along
  return {
    debug: logger.debug.bind(logger),
    info: logger.info.bind(logger),
    warn: logger.warn.bind(logger),
    error: logger.error.bind(logger),
  };
}
