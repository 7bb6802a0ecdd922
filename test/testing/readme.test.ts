// README "Testing your workflows" shows the example test whole: what it shows is the file that
// `npm test` runs (examples/testing/), so the two cannot drift apart.
import test from 'ava';
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);

/** The README's ```ts block that starts with `// <path>`, without that line. */
function block(path: string): string {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const body = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!).find((b) => b.startsWith(`// ${path}\n`));
  if (!body) throw new Error(`README.md has no \`\`\`ts block starting with // ${path}`);
  return body.slice(`// ${path}\n`.length);
}

for (const path of ['examples/testing/workflows.ts', 'examples/testing/checkout.test.ts']) {
  test(`the README shows ${path} as it is`, (t) => {
    t.is(block(path), readFileSync(new URL(path, root), 'utf8'));
  });
}
