// Issue 10, point 6: a schema name must fit every identifier derived from it, and must be one
// Postgres accepts unquoted as a schema: no reserved keyword, no `pg_` prefix.
import test from 'ava';
import { Client, ConfigError, Skein } from '../../runtime/index.ts';
import { MAX_SCHEMA_LENGTH } from '../../storage/identifiers.ts';
import { notifyChannel } from '../../storage/messages.ts';
import { echo, receiveOne } from '../fixtures/hostile-input.ts';
import { sql, testDatabase, unique } from '../support/helpers.ts';

const workflows = new URL('../fixtures/hostile-input.ts', import.meta.url);

/** Postgres truncates identifiers (channel names included) to NAMEDATALEN - 1 bytes. */
const PG_MAX_IDENTIFIER = 63;

async function schemaExists(name: string): Promise<boolean> {
  const rows = await sql('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [name]);
  return rows.length > 0;
}

/** A fresh schema name of exactly `length` characters. */
function nameOf(length: number): string {
  const base = unique('s').replace('-', '_');
  return (base + '_'.repeat(length)).slice(0, length);
}

test('the maximum schema length leaves the NOTIFY channel within 63 bytes', (t) => {
  t.true(MAX_SCHEMA_LENGTH < PG_MAX_IDENTIFIER);
  t.is(notifyChannel(nameOf(MAX_SCHEMA_LENGTH)).length, PG_MAX_IDENTIFIER);
});

const refusals: [string, string, RegExp][] = [
  ['a 63-character name', nameOf(63), /at most \d+ characters/],
  ['a name one character over the maximum', nameOf(MAX_SCHEMA_LENGTH + 1), /at most \d+ characters/],
  ["'select'", 'select', /reserved keyword/],
  ["'user'", 'user', /reserved keyword/],
  ["'left' (a type/function-name keyword)", 'left', /reserved keyword/],
  ["'pg_temp_x'", 'pg_temp_x', /pg_/],
];

for (const [title, schema, why] of refusals) {
  test(`${title} as config.schema is a ConfigError at launch and connect, and creates nothing`, async (t) => {
    const databaseUrl = await testDatabase();
    for (const attempt of [
      () => Skein.launch({ workflows, databaseUrl, schema, executorId: unique('executor') }),
      () => Client.connect({ databaseUrl, schema }),
    ]) {
      const err = await t.throwsAsync(attempt, { instanceOf: ConfigError });
      t.regex(err!.message, /config\.schema/);
      t.true(err!.message.includes(JSON.stringify(schema)), err!.message);
      t.regex(err!.message, why);
    }
    t.false(await schemaExists(schema));
  });
}

test('a schema name of exactly the maximum length launches and runs workflows to completion', async (t) => {
  const schema = nameOf(MAX_SCHEMA_LENGTH);
  const databaseUrl = await testDatabase();
  const skein = await Skein.launch({ workflows, databaseUrl, schema, threads: 1, executorId: unique('executor') });
  t.teardown(() => skein.shutdown({ timeoutMs: 2000 }));
  t.true(await schemaExists(schema));
  // its end is written with a NOTIFY on `<schema>_wakeups`, which Postgres refuses past 63 bytes
  t.is(await skein.run(echo, 'done'), 'done');
  // and a wait is woken through that channel; a Client on the schema listens on it too
  const client = await Client.connect({ databaseUrl, schema });
  t.teardown(() => client.close());
  const receiving = await skein.start(receiveOne, { timeoutMs: 60_000 });
  await client.send(receiving.id, 'hello', 't');
  t.is(await client.retrieve<string>(receiving.id).result(), 'hello');
});
