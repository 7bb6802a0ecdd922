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
