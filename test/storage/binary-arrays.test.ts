// The writer's packed array parameters read back in Postgres as the same arrays the driver's
// text literals gave: every element type the flush statements use, NULLs, empty arrays, and the
// strings a text literal has to escape.
import test from 'ava';
import { packArray, arrayParamTypes, type ElementType } from '../../storage/binary-arrays.ts';
import { sql } from '../support/helpers.ts';

const SQL_TYPE: Record<ElementType, string> = { text: 'text', bytea: 'bytea', int: 'int', bigint: 'bigint', float8: 'float8', boolean: 'boolean' };

/** What Postgres makes of `values` as `type[]`, sent packed and sent as the driver's text literal. */
async function both(type: ElementType, values: unknown[]) {
  const packed = packArray(type, values);
  const [viaBinary] = await sql(`SELECT $1::${SQL_TYPE[type]}[] AS a, array_length($1::${SQL_TYPE[type]}[], 1) AS n`, [packed]);
  const [viaText] = await sql(`SELECT $1::${SQL_TYPE[type]}[] AS a, array_length($1::${SQL_TYPE[type]}[], 1) AS n`, [values]);
  return { packed, viaBinary, viaText };
}

const cases: [ElementType, unknown[]][] = [
  ['text', ['plain', '', 'NULL', 'null', 'with "quotes"', 'back\\slash', 'comma,{brace}', 'ünïcødé ✓', '😀 astral', ' spaced ', null, 'x'.repeat(5000)]],
  ['bytea', [new Uint8Array([0, 1, 2, 255]), new Uint8Array(0), null, Buffer.from('\\x00 not hex'), new Uint8Array(70_000).fill(7)]],
  ['int', [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), null, 42]],
  ['bigint', [0, 1, -1, 2 ** 32, -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_764_892_800_123, null]],
  ['float8', [0, 1.5, -2.25e-300, 1.7976931348623157e308, 1_764_892_800_123.456, NaN, Infinity, -Infinity, null]],
  ['boolean', [true, false, null, true]],
];

for (const [type, values] of cases) {
  test(`${type}[]: packed reads back as the text literal does`, async (t) => {
    const { packed, viaBinary, viaText } = await both(type, values);
    t.true(Buffer.isBuffer(packed), 'packed in binary');
    t.deepEqual(viaBinary, viaText);
    t.is(viaBinary.n, values.length);
  });
}

test('float8 keeps the sign of -0, which the text literal ("0") dropped', async (t) => {
  const [row] = await sql('SELECT $1::float8[] AS a', [packArray('float8', [-0, 0])]);
  t.true(Object.is(row.a[0], -0));
  t.true(Object.is(row.a[1], 0));
});

test('empty arrays of every type', async (t) => {
  for (const type of Object.keys(SQL_TYPE) as ElementType[]) {
    const { packed, viaBinary, viaText } = await both(type, []);
    t.true(Buffer.isBuffer(packed));
    t.deepEqual(viaBinary.a, [], type);
    t.deepEqual(viaBinary, viaText, type);
  }
});

test('an element not of the type leaves the array as text, and Postgres refuses it as before', async (t) => {
  for (const [type, values] of [
    ['int', [1, 1.5]],
    ['int', [2 ** 31]],
    ['bigint', [2 ** 60]],
    ['text', ['a', 7]],
    ['boolean', [true, 'yes']],
  ] as [ElementType, unknown[]][]) {
    t.is(packArray(type, values), values, `${type}: ${String(values)}`);
  }
  await t.throwsAsync(sql('SELECT $1::int[]', [packArray('int', [1, 1.5])]), { message: /invalid input syntax for type integer/ });
});

test('unnest over several packed arrays keeps rows aligned, NULLs in place', async (t) => {
  const rows = await sql(
    'SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[]) WITH ORDINALITY AS u(id, b, n, i) ORDER BY i',
    [packArray('text', ['a', null, 'c']), packArray('bytea', [null, new Uint8Array([9]), null]), packArray('bigint', [1, 2, null])],
  );
  t.deepEqual(rows.map((r) => [r.id, r.b && [...r.b], r.n]), [['a', null, '1'], [null, [9], '2'], ['c', null, null]]);
});

test('arrayParamTypes reads the casts of a statement', (t) => {
  t.deepEqual(arrayParamTypes('unnest($1::text[], $3::bytea[]) AS x, $2::int[], $4::bytea, $5::float8[]'), [
    'text', 'int', 'bytea', undefined, 'float8',
  ]);
});
