import test from 'ava';
import {
  decodeError,
  decodeValue,
  encodeError,
  encodeValue,
  MAX_PAYLOAD_BYTES,
} from '../../threads/codec.ts';
import { ConflictError, SerializationError } from '../../threads/errors.ts';

test('values round-trip with their types', (t) => {
  const value = { d: new Date(5), m: new Map([['k', new Set([1n])]]), u: undefined, b: new Uint8Array([1, 2]) };
  t.deepEqual(decodeValue(encodeValue(value)), value);
});

test('functions, symbols and promises are SerializationErrors', (t) => {
  for (const bad of [() => 1, Symbol('x'), Promise.resolve(), { nested: { fn() {} } }]) {
    t.throws(() => encodeValue(bad), { instanceOf: SerializationError });
  }
});

test('oversized payloads are SerializationErrors', (t) => {
  t.throws(() => encodeValue(new Uint8Array(MAX_PAYLOAD_BYTES)), {
    instanceOf: SerializationError,
    message: /exceeds/,
  });
});

test('errors keep class name, message, stack, own properties and cause', (t) => {
  class Custom extends Error {
    code = 'E_X';
    detail = { n: 1 };
    fn = () => 1; // not serializable: kept as a string
  }
  const original = new Custom('outer', { cause: new TypeError('inner') });
  const copy = decodeError(encodeError(original)) as Custom;
  t.is(copy.constructor.name, 'Custom');
  t.is(copy.message, 'outer');
  t.is(copy.code, 'E_X');
  t.deepEqual(copy.detail, { n: 1 });
  t.is(typeof copy.fn, 'string');
  t.is(copy.stack, original.stack);
  t.true(copy.cause instanceof TypeError);
  t.is((copy.cause as Error).message, 'inner');
  t.true(copy instanceof Error);
});

test('known classes are rebuilt as themselves', (t) => {
  class Mine extends Error {}
  const classes = new Map([['Mine', Mine]]);
  t.true(decodeError(encodeError(new Mine('m')), classes) instanceof Mine);
  const conflict = decodeError(encodeError(new ConflictError('c')));
  t.true(conflict instanceof ConflictError);
  t.is((conflict as ConflictError).code, 'CONFLICT');
});

test('non-errors thrown come back as thrown; hostile class names become plain names', (t) => {
  t.is(decodeError(encodeError('just a string')), 'just a string');
  t.deepEqual(decodeError(encodeError({ reason: 1 })), { reason: 1 });
  const hostile = new Error('h');
  Object.defineProperty(hostile, 'constructor', { value: { name: 'x=>{}; alert(1)' } });
  const copy = decodeError(encodeError(hostile)) as Error;
  t.is(copy.message, 'h');
  t.true(copy instanceof Error);
});

test('a payload from an unknown format version is refused', (t) => {
  const bytes = encodeValue(1);
  bytes[0] = 99;
  t.throws(() => decodeValue(bytes), { instanceOf: SerializationError, message: /format 99/ });
});
