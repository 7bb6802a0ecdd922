import { createHash } from 'node:crypto';
import { ConfigError } from '../threads/errors.ts';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The schema name is the only identifier interpolated into SQL; everything else is a parameter.
 * Lower-case letters, digits and underscores only, so it never needs quoting.
 */
export function validateSchemaName(schema: unknown): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
    throw new ConfigError(
      `config.schema must match ${SCHEMA_NAME} (lower-case letters, digits, underscores; ` +
        `at most 63 characters), got ${JSON.stringify(schema)}`,
    );
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
