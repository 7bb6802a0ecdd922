// README "Transactions": its Drizzle example, copied out of the README as a reader would, type-
// checked and run: it places an order exactly once, and an order for a sold-out item rolls back
// and fails with the example's own error class.
import test from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { Skein } from 'skein';
import { sql, testDatabase, unique } from '../support/helpers.ts';

const root = new URL('../../', import.meta.url);
// inside the repository, so that `skein` (the package itself) and drizzle-orm resolve
const dir = new URL('test/.generated/', root);
const file = new URL('orders.ts', dir);

/** The README's ```ts block that starts with `// orders.ts`. */
function example(): string {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const body = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).find((b) => b.startsWith('// orders.ts\n'));
  if (!body) throw new Error('README.md has no ```ts block starting with // orders.ts');
  return body;
}

test.before(() => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, example());
});

test('the example type-checks as written', (t) => {
  const program = ts.createProgram([fileURLToPath(file)], {
    strict: true, noEmit: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022, skipLibCheck: true, types: ['node'],
  });
  const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  t.deepEqual(problems, []);
});

test('the example places an order exactly once and rolls back a sold-out one', async (t) => {
  await sql('CREATE TABLE orders (id text PRIMARY KEY, total integer NOT NULL)');
  await sql('CREATE TABLE stock (sku text PRIMARY KEY, remaining integer NOT NULL)');
  await sql(`INSERT INTO stock (sku, remaining) VALUES ('tea', 1)`);
  const skein = await Skein.launch({ workflows: file, databaseUrl: await testDatabase(), threads: 1, executorId: unique('e') });
  t.teardown(() => skein.shutdown());
  const { placeOrder, OutOfStock } = await import(file.href);
  const first = unique('order');
  t.deepEqual(await skein.run(placeOrder, { id: first, sku: 'tea', total: 12 }), { id: first, remaining: 0 });
  const err = await t.throwsAsync(skein.run(placeOrder, { id: unique('order'), sku: 'tea', total: 12 }));
  t.true(err instanceof OutOfStock, String(err));
  t.deepEqual(await sql('SELECT id, total FROM orders'), [{ id: first, total: 12 }]);
  t.deepEqual(await sql('SELECT remaining FROM stock'), [{ remaining: 0 }], 'the sold-out attempt rolled its update back');
});
