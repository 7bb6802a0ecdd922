import { createHash } from 'node:crypto';
import { ConfigError } from '../common/errors.ts';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]*$/;

/** Postgres cuts identifiers (channel names too) at NAMEDATALEN - 1 bytes. */
const PG_MAX_IDENTIFIER = 63;

/**
 * The LISTEN/NOTIFY channel of a schema. Postgres refuses pg_notify on a channel past 63 bytes
 * while LISTEN cuts the name silently, so a schema too long for it leaves every wait unanswered.
 */
export function wakeupChannel(schema: string): string {
  return `${schema}_wakeups`;
}

/**
 * Every identifier Postgres sees that is made from the schema name: the name itself and the
 * NOTIFY channel (wakeupChannel, used by storage/messages.ts). Not limits: prepared statement names
 * (statementName hashes a long schema), advisory-lock keys (hashtext of any text), table and
 * index names (fixed, inside the schema).
 */
const DERIVED_IDENTIFIERS: ((schema: string) => string)[] = [(schema) => schema, wakeupChannel];

/** The longest schema name whose derived identifiers all fit in 63 bytes (names are ASCII). */
export const MAX_SCHEMA_LENGTH = PG_MAX_IDENTIFIER - Math.max(...DERIVED_IDENTIFIERS.map((d) => d('').length));

/**
 * Keywords Postgres does not accept unquoted as a schema name: categories R (reserved) and T
 * (reserved, but allowed as a function or type name) of `SELECT word FROM pg_get_keywords()
 * WHERE catcode IN ('R', 'T')`, from PostgreSQL 18.4 (the embedded server of the tests).
 * Categories U and C are accepted as schema names.
 */
const RESERVED_KEYWORDS = new Set([
  'all', 'analyse', 'analyze', 'and', 'any', 'array', 'as', 'asc', 'asymmetric', 'authorization',
  'binary', 'both', 'case', 'cast', 'check', 'collate', 'collation', 'column', 'concurrently',
  'constraint', 'create', 'cross', 'current_catalog', 'current_date', 'current_role',
  'current_schema', 'current_time', 'current_timestamp', 'current_user', 'default', 'deferrable',
  'desc', 'distinct', 'do', 'else', 'end', 'except', 'false', 'fetch', 'for', 'foreign', 'freeze',
  'from', 'full', 'grant', 'group', 'having', 'ilike', 'in', 'initially', 'inner', 'intersect',
  'into', 'is', 'isnull', 'join', 'lateral', 'leading', 'left', 'like', 'limit', 'localtime',
  'localtimestamp', 'natural', 'not', 'notnull', 'null', 'offset', 'on', 'only', 'or', 'order',
  'outer', 'overlaps', 'placing', 'primary', 'references', 'returning', 'right', 'select',
  'session_user', 'similar', 'some', 'symmetric', 'system_user', 'table', 'tablesample', 'then',
  'to', 'trailing', 'true', 'union', 'unique', 'user', 'using', 'variadic', 'verbose', 'when',
  'where', 'window', 'with',
]);

/**
 * The schema name is the only identifier interpolated into SQL; everything else is a parameter.
 * Lower-case letters, digits and underscores only, so it never needs quoting; short enough for
 * every identifier made from it; and a name Postgres accepts for a schema of ours.
 */
export function validateSchemaName(schema: unknown): string {
  const refuse = (why: string) => new ConfigError(`config.schema ${JSON.stringify(schema)} ${why}`);
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw refuse(`must match ${SCHEMA_NAME} (lower-case letters, digits, underscores, not starting with a digit)`);
  }
  if (schema.length > MAX_SCHEMA_LENGTH) {
    throw refuse(
      `is ${schema.length} characters long; it may be at most ${MAX_SCHEMA_LENGTH} characters, so that ` +
        `its NOTIFY channel ${JSON.stringify(wakeupChannel(schema))} fits the ${PG_MAX_IDENTIFIER}-byte identifier limit of Postgres`,
    );
  }
  if (RESERVED_KEYWORDS.has(schema)) {
    throw refuse('is a reserved keyword of Postgres, which it does not accept as a schema name unquoted');
  }
  if (schema.startsWith('pg_')) {
    throw refuse('starts with pg_, a prefix Postgres reserves for system schemas');
  }
  return schema;
}

/**
 * The name of a prepared statement. Postgres cuts names at 63 bytes, and two statements whose
 * names collide after the cut would silently run each other's SQL, so a long schema name is
 * replaced by a hash of it.
 */
export function statementName(schema: string, label: string): string {
  const name = `skein.${schema}.${label}`;
  if (name.length <= 63) return name;
  const short = `skein.${createHash('sha1').update(schema).digest('hex').slice(0, 8)}.${label}`;
  if (short.length > 63) throw new Error(`statement label too long: ${label}`);
  return short;
}
