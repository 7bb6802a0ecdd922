// The dashboard's files as serveAsset gives them to the admin server: the page with its csrf
// token and security headers, every file the page loads (followed from the page through the
// module graph, so a missing or mistyped import fails here), and nothing else: paths that try
// to leave the page's directory are 404s.
import test from 'ava';
import { createHash } from 'node:crypto';
import { serveAsset } from '../../runtime/dashboard/assets.ts';

async function html(csrf = 'token') {
  const page = await serveAsset('/', csrf);
  if (!page) throw new Error('no page at /');
  return { page, text: String(page.body) };
}

test('the page carries the csrf token escaped, and a policy that allows no inline script but its import map', async (t) => {
  const { page, text } = await html('a"b<c>&\'d');
  t.is(page.status, 200);
  t.is(page.type, 'text/html; charset=utf-8');
  t.true(text.includes('<meta name="skein-csrf" content="a&#34;b&#60;c&#62;&#38;&#39;d">'));
  const csp = page.headers['content-security-policy']!;
  t.regex(csp, /default-src 'self'/);
  t.regex(csp, /object-src 'none'/);
  t.regex(csp, /frame-ancestors 'none'/);
  t.false(csp.includes('unsafe-inline'));
  t.false(csp.includes('unsafe-eval'));
  // the only inline script is the import map, allowed by its hash
  const inline = [...text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)].filter(([, , body]) => body!.length > 0);
  t.is(inline.length, 1);
  t.regex(inline[0]![1]!, /type="importmap"/);
  const hash = createHash('sha256').update(inline[0]![2]!).digest('base64');
  t.true(csp.includes(`'sha256-${hash}'`));
  t.is(page.headers['cache-control'], 'no-store');
  t.is(page.headers['x-content-type-options'], 'nosniff');
  t.is(page.headers['x-frame-options'], 'DENY');
  t.is(page.headers['referrer-policy'], 'no-referrer');
});

test('every file the page loads is served with its type, following the module graph', async (t) => {
  const { text } = await html();
  const importMap = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(text)![1]!) as { imports: Record<string, string> };
  t.deepEqual(Object.keys(importMap.imports).sort(), ['htm', 'htm/preact', 'preact', 'preact/hooks']);
  const css = /<link rel="stylesheet" href="([^"]+)">/.exec(text)![1]!;
  const style = await serveAsset(`/${css}`, 'x');
  t.is(style?.type, 'text/css; charset=utf-8');
  t.is(style?.headers['cache-control'], 'no-cache');

  for (const url of Object.values(importMap.imports)) {
    const file = await serveAsset(url.replace(/^\./, ''), 'x');
    t.is(file?.status, 200, url);
    t.is(file?.type, 'text/javascript; charset=utf-8');
    // named by a hash of its content: cached for good
    t.regex(file!.headers['cache-control']!, /immutable/);
  }

  // from the entry, every relative import of the page's code resolves to a served module
  const entry = /<script type="module" src="([^"]+)">/.exec(text)![1]!;
  const seen = new Set<string>();
  const queue = [`/${entry}`];
  while (queue.length) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const file = await serveAsset(path, 'x');
    t.is(file?.status, 200, `${path} is served`);
    t.is(file?.type, 'text/javascript; charset=utf-8');
    const code = String(file!.body);
    t.false(/^\s*import\s+type\s/m.test(code), `${path} is JavaScript, not TypeScript`);
    for (const [, spec] of code.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm)) {
      if (spec!.startsWith('./')) queue.push(`/ui/${spec!.slice(2)}`);
      else t.true(spec! in importMap.imports, `${path} imports ${spec}, which the import map names`);
    }
  }
  t.true(seen.size >= 8, `the page's modules: ${[...seen].join(', ')}`);
});

test('paths outside the page are 404s: traversal, encoded dots, other files of the directory', async (t) => {
  const { text } = await html();
  const vendorUrl = /"preact":"\.\/([^"]+)"/.exec(text)![1]!;
  const hostile = [
    '/../../etc/passwd',
    '/ui/../../../etc/passwd',
    '/ui/../assets.ts',
    '/ui/%2e%2e/%2e%2e/package.json',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/ui/..%2fassets.ts',
    '/ui/%2e%2e%2fcontract.ts',
    '/ui\\..\\assets.ts',
    '/ui/main.js%00.css',
    '/ui/main.d.ts',
    '/ui/main.js.map',
    '/ui/Main.js',
    '/ui/missing.js',
    '/ui/',
    '/ui',
    '/vendor/../package.json',
    `/${vendorUrl.replace(/\.[0-9a-f]{12}\./, '.000000000000.')}`,
    '/vendor/pg.000000000000.mjs',
    '/favicon.ico',
    '/api',
    '//etc/passwd',
    '/index.html/..',
  ];
  for (const path of hostile) t.is(await serveAsset(path, 'x'), null, path);
  // and the same names do serve where they belong
  t.is((await serveAsset(`/${vendorUrl}`, 'x'))?.status, 200);
  t.is((await serveAsset('/ui/main.js', 'x'))?.status, 200);
  t.is((await serveAsset('/index.html', 'x'))?.status, 200);
  t.is((await serveAsset('/?x=1', 'x'))?.status, 200);
});
