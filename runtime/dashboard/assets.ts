// The dashboard page and its files, served by the admin server for every GET that is not /api/*,
// /metrics or /healthz. Everything comes from the installed package (no CDN: it works offline).
//
// UI stack: Preact + htm, loaded as ES modules through an import map, no bundler. Why: together
// 17 kB of maintained code with no dependencies of their own; htm's tagged templates need no build
// step; Preact escapes every text it renders (a workflow's name, input or error can only become a
// text node), and its diffing keeps the filter inputs' focus and the scroll while the lists
// refresh every few seconds, which hand-written DOM code would redo by replaceChildren.
//
// The page's own code is TypeScript in ./ui/: tsc compiles it to dist/runtime/dashboard/ui/*.js
// with the rest of the package, and `npm run build` copies its .css there. Run from source (tsx),
// there is no .js: a .ts file is then transformed on request by esbuild (tsx's own transformer,
// a dev dependency), imported only on that path, so an installed package never needs it.
//
// Nothing from the request reaches the file system but a name matching [a-z0-9-]+ in ./ui/ or a
// vendor key of a fixed map: `/../`, `%2e%2e` and the like are 404s, not paths.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface Asset {
  status: number;
  body: string | Buffer;
  /** the Content-Type */
  type: string;
  /** security and cache headers the admin server sends with the body */
  headers: Record<string, string>;
}

const UI_DIR = fileURLToPath(new URL('./ui/', import.meta.url));

/** The browser builds (ES modules) of the UI library, by the bare name the page imports. */
const VENDOR: Record<string, string> = {
  preact: 'preact',
  'preact-hooks': 'preact/hooks',
  htm: 'htm',
  'htm-preact': 'htm/preact',
};

const JS = 'text/javascript; charset=utf-8';

/** Sent with every file: no sniffing a type, no framing, no referrer leaking workflow IDs. */
const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

interface VendorFile {
  /** the URL path, named by a hash of the content, so it may be cached for good */
  url: string;
  body: Buffer;
}

let vendorFiles: Promise<Map<string, VendorFile>> | undefined;

/** Reads the library files once; their URLs carry a hash of their content. */
function vendor(): Promise<Map<string, VendorFile>> {
  vendorFiles ??= (async () => {
    const files = new Map<string, VendorFile>();
    for (const [key, specifier] of Object.entries(VENDOR)) {
      // the import conditions pick each package's own ES module build
      const body = await readFile(fileURLToPath(import.meta.resolve(specifier)));
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
      files.set(key, { url: `vendor/${key}.${hash}.mjs`, body });
    }
    return files;
  })();
  vendorFiles.catch(() => (vendorFiles = undefined));
  return vendorFiles;
}

/** The page, or null (404) for what is not part of it. `csrf` goes into its meta tag. */
export async function serveAsset(path: string, csrf: string): Promise<Asset | null> {
  const pathname = path.split(/[?#]/)[0]!;
  if (pathname === '/' || pathname === '/index.html') return page(csrf);
  const vendorMatch = /^\/vendor\/([a-z-]+)\.([0-9a-f]{12})\.mjs$/.exec(pathname);
  if (vendorMatch) {
    const file = (await vendor()).get(vendorMatch[1]!);
    if (!file || file.url !== pathname.slice(1)) return null;
    return { status: 200, body: file.body, type: JS, headers: { ...COMMON_HEADERS, 'cache-control': 'public, max-age=31536000, immutable' } };
  }
  const uiMatch = /^\/ui\/([a-z0-9-]+)\.(js|ts|css)$/.exec(pathname);
  if (uiMatch) return uiFile(uiMatch[1]!, uiMatch[2]!);
  return null;
}

/** The page's own code: revalidated on each load, since an upgrade changes it under one URL. */
async function uiFile(name: string, ext: string): Promise<Asset | null> {
  const headers = { ...COMMON_HEADERS, 'cache-control': 'no-cache' };
  if (ext === 'css') {
    const body = await readIfExists(`${UI_DIR}${name}.css`);
    return body === null ? null : { status: 200, body, type: 'text/css; charset=utf-8', headers };
  }
  // compiled (dist) first; from source, the .ts transformed. The page's modules import each other
  // as './x.ts', which tsc rewrites to './x.js' in dist: both names land here.
  const compiled = await readIfExists(`${UI_DIR}${name}.js`);
  if (compiled !== null) return { status: 200, body: compiled, type: JS, headers };
  const source = `${UI_DIR}${name}.ts`;
  if (!existsSync(source)) return null;
  return { status: 200, body: await transformed(source), type: JS, headers };
}

async function readIfExists(file: string): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

const transformCache = new Map<string, { mtimeMs: number; code: string }>();

/** A .ts file as the browser can run it (types stripped), cached until the file changes. */
async function transformed(file: string): Promise<string> {
  const { mtimeMs } = await stat(file);
  const cached = transformCache.get(file);
  if (cached?.mtimeMs === mtimeMs) return cached.code;
  const { transform } = await import('esbuild');
  const { code } = await transform(await readFile(file, 'utf8'), { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: file });
  transformCache.set(file, { mtimeMs, code });
  return code;
}

/** An HTML attribute value: the csrf token is ours, but it is escaped all the same. */
function attribute(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function page(csrf: string): Promise<Asset> {
  const files = await vendor();
  const imports: Record<string, string> = {};
  for (const [key, specifier] of Object.entries(VENDOR)) imports[specifier] = `./${files.get(key)!.url}`;
  // the import map is the page's only inline script: the policy allows it by its hash, nothing else
  const importMap = JSON.stringify({ imports });
  const mapHash = createHash('sha256').update(importMap).digest('base64');
  const policy = [
    "default-src 'self'",
    `script-src 'self' 'sha256-${mapHash}'`,
    "style-src 'self'",
    // data: for the empty icon below, which spares the browser a request for /favicon.ico
    "img-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ];
  // the header is the policy; the same in a meta tag holds even where a proxy drops the header
  // (a meta tag cannot carry frame-ancestors: the header and x-frame-options do)
  const metaPolicy = policy.filter((d) => !d.startsWith('frame-ancestors')).join('; ');
  // relative URLs, so the page also works behind a proxy under a sub-path
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${attribute(metaPolicy)}">
<meta name="skein-csrf" content="${attribute(csrf)}">
<title>skein dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="ui/style.css">
<script type="importmap">${importMap}</script>
<script type="module" src="ui/main.js"></script>
</head>
<body>
<noscript>The skein dashboard needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;
  return {
    status: 200,
    body,
    type: 'text/html; charset=utf-8',
    headers: {
      ...COMMON_HEADERS,
      'content-security-policy': policy.join('; '),
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      'permissions-policy': 'camera=(), microphone=(), geolocation=()',
      // it carries the csrf token of this server: never stored
      'cache-control': 'no-store',
    },
  };
}
