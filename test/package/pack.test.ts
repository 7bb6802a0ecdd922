// The package as a user gets it: pack a copy of the repository as a fresh clone has it (no
// dist/, so `prepare` must build), install the tarball into a new ESM app, and run the README
// Quickstart there verbatim, under tsx and compiled by a strict tsc (no skipLibCheck) for node.
// The Quickstart starts its embedded Postgres in the app's .skein/; the installed `skein
// dashboard` serves its page on a test database.
import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { testDatabase } from '../support/helpers.ts';
import { quickstartFiles, readmeTsconfig } from './readme.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const execFileAsync = promisify(execFile);

interface Run {
  code: number | null;
  stdout: string;
  /** the command and all it printed, for failure messages */
  output: string;
}

/**
 * The environment of a user's shell: none of the npm variables `npm test` exported (a stray
 * npm_config_local_prefix would point the app's install at this repository), no database URL
 * (the Quickstart then uses its embedded Postgres) and no loader hooks from this test process.
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = /^npm_config_(cache|userconfig|globalconfig|registry)$/i;
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !keep.test(k)) continue;
    if (/^SKEIN_/.test(k) || k === 'DATABASE_URL' || k === 'NODE_OPTIONS' || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return env;
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 5 * 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, env: userEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, output: `$ ${cmd} ${args.join(' ')}\n${stdout}${stderr}` });
      },
    );
  });
}

/** The repository as `git clone` of it would give it: tracked and unignored files, no dist/. */
async function copyAsClone(dest: string): Promise<void> {
  const { stdout } = await execFileAsync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    maxBuffer: 64 << 20,
  });
  for (const file of stdout.split('\0')) {
    // node_modules/ is ignored as a directory only: a symlinked one shows up as untracked
    if (!file || file === 'node_modules' || !existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    cpSync(join(root, file), join(dest, file));
  }
  // the dependencies `npm ci` would install, so `prepare` can build
  symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'), 'dir');
}

function versionOf(pkg: string): string {
  return JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

/** A Quickstart run must stop the Postgres it started: postmaster.pid goes with a clean stop. */
function postmasterPid(app: string): number | undefined {
  const file = join(app, '.skein', 'pgdata', 'postmaster.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').split('\n')[0]) : undefined;
}

function stopLeftPostgres(app: string): void {
  const pid = postmasterPid(app);
  if (pid) {
    try {
      process.kill(pid, 'SIGINT'); // Postgres' fast shutdown
    } catch {
      // already gone
    }
  }
}

interface Packed {
  tmp: string;
  /** the paths in the tarball */
  paths: string[];
  /** the new ESM app the tarball is installed in, with the Quickstart's files written */
  app: string;
  quickstart: string[];
}

/** Packs a fresh copy and installs the tarball into a new app: the tests below share it. */
async function packAndInstall(t: ExecutionContext, tmp: string): Promise<Packed> {
  const clone = join(tmp, 'clone');
  await copyAsClone(clone);
  if (existsSync(join(clone, 'dist'))) throw new Error('the copy has a dist/: a fresh clone has none');
  let started = Date.now();
  const pack = await run('npm', ['pack', '--json', '--pack-destination', tmp], clone);
  if (pack.code !== 0) throw new Error(`npm pack failed\n${pack.output}`);
  const [{ filename, files }] = JSON.parse(pack.stdout) as { filename: string; files: { path: string }[] }[];
  t.log(`npm pack (prepare builds): ${Date.now() - started} ms`);

  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'quickstart', private: true, type: 'module' }));
  started = Date.now();
  const install = await run(
    'npm',
    [
      'install',
      join(tmp, filename),
      `typescript@${versionOf('typescript')}`,
      `tsx@${versionOf('tsx')}`,
      `@types/node@${versionOf('@types/node')}`,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
    ],
    app,
  );
  if (install.code !== 0) throw new Error(`npm install of the tarball failed\n${install.output}`);
  t.log(`npm install of the tarball: ${Date.now() - started} ms`);

  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const quickstart = quickstartFiles(readme);
  for (const [name, text] of quickstart) writeFileSync(join(app, name), text);
  // the second entry point, as a user's test imports it (the strict tsc below checks its types)
  writeFileSync(
    join(app, 'testing-entry.ts'),
    [
      "import { clock, database, everyCrashPoint, replayCheck, type TestClock } from 'skein/testing';",
      'const time: TestClock = clock();',
      "console.log([typeof database, typeof everyCrashPoint, typeof replayCheck, typeof time.advance].join(' '));",
      '',
    ].join('\n'),
  );
  // the README's tsconfig.json (Install), stricter: skein's own types checked too, and
  // exactOptionalPropertyTypes, which `tsc --init` (TypeScript 5.9) turns on: an option given
  // as `process.env.X` (string | undefined) must still type-check
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { ...readmeTsconfig(readme).compilerOptions, skipLibCheck: false, exactOptionalPropertyTypes: true },
      include: [...quickstart.keys(), 'testing-entry.ts'],
    }),
  );
  return { tmp, paths: files.map((f) => f.path), app, quickstart: [...quickstart.keys()] };
}

let packed: Promise<Packed> | undefined;

test.before((t) => {
  // measured on 2 busy cores: pack 27-49 s (the build), install 17-27 s
  t.timeout(10 * 60_000);
  const tmp = mkdtempSync(join(tmpdir(), 'skein-pack-'));
  chmodSync(tmp, 0o755); // run as root, the embedded Postgres runs as another user
  packed = packAndInstall(t, tmp);
  return packed.then(() => undefined);
});

test.after.always(async () => {
  const p = await packed?.catch(() => undefined);
  if (!p) return;
  stopLeftPostgres(p.app);
  rmSync(p.tmp, { recursive: true, force: true });
});

/** Runs the Quickstart in the app on a database of its own, which it must stop when done. */
async function quickstartRun(t: ExecutionContext, app: string, cmd: string, args: string[]): Promise<void> {
  rmSync(join(app, '.skein'), { recursive: true, force: true });
  const started = Date.now();
  const r = await run(cmd, args, app);
  t.log(`${r.output.split('\n')[0]}: ${Date.now() - started} ms`);
  if (r.stdout.trim()) t.log(r.stdout.trim());
  t.is(r.code, 0, `the Quickstart did not complete\n${r.output}`);
  t.is(postmasterPid(app), undefined, 'the embedded Postgres was left running');
  stopLeftPostgres(app);
}

test('the package holds the build and its documents, and every file the runtime loads by path', async (t) => {
  const { paths } = await packed!;
  const shipped = /^(package\.json|README\.md|LICENSE(\.\w+)?|dist\/(common|datasources|runtime|threads|storage|recovery)\/.+)$/;
  t.deepEqual(paths.filter((p) => !shipped.test(p)), [], 'files that have no place in the package');
  for (const p of ['dist/runtime/index.js', 'dist/runtime/index.d.ts', 'dist/threads/worker.js', 'dist/datasources/transaction.js', 'dist/runtime/testing/crash-child.js']) {
    t.true(paths.includes(p), `${p} is not in the package`);
  }
  for (const sql of readdirSync(join(root, 'storage', 'migrations'))) {
    t.true(paths.includes(`dist/storage/migrations/${sql}`), `migration ${sql} is not in the package`);
  }
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const bin of Object.values<string>(manifest.bin ?? {})) {
    t.true(paths.includes(bin.replace(/^\.\//, '')), `bin ${bin} is not in the package`);
  }
});

test('the README Quickstart has the files a reader copies, main.ts among them', async (t) => {
  const { quickstart } = await packed!;
  t.true(quickstart.includes('main.ts'), `the Quickstart's files: ${quickstart.join(', ')}`);
});

test('the installed package has its command line: npx skein --help lists the commands', async (t) => {
  const { app } = await packed!;
  // the app's own bin, linked by the install: npx runs it rather than look in the registry
  t.true(existsSync(join(app, 'node_modules', '.bin', 'skein')), 'npm install linked no bin skein');
  const r = await run('npx', ['skein', '--help'], app, 60_000);
  t.is(r.code, 0, r.output);
  for (const command of ['workflow', 'queue', 'schedule', 'executor', 'migrate']) t.regex(r.stdout, new RegExp(`^  ${command}\\b`, 'm'), r.output);
});

test('the installed package has its testing kit: skein/testing resolves and its types check', async (t) => {
  const { app } = await packed!;
  const r = await run(join(app, 'node_modules', '.bin', 'tsx'), ['testing-entry.ts'], app, 60_000);
  t.is(r.code, 0, r.output);
  t.is(r.stdout.trim(), 'function function function function');
});

test('the installed package serves its dashboard: the page and every module it loads, the library among them', async (t) => {
  const { app } = await packed!;
  const db = await testDatabase();
  const skein = join(app, 'node_modules', '.bin', 'skein');
  const migrate = await run(skein, ['migrate', '--db', db], app, 60_000); // the dashboard only reads: tables first
  t.is(migrate.code, 0, migrate.output);
  const child = spawn(skein, ['dashboard', '--db', db, '--port', '0', '--json'], { cwd: app, env: userEnv() });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${out}`)), 60_000);
    child.stdout.on('data', () => {
      const m = /"url": "([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before serving:\n${out}`)));
  });
  // follow what the page loads: its links and scripts, the import map, and each module's imports
  const seen = new Map<string, number>();
  const queue = [new URL(url)];
  while (queue.length > 0) {
    const at = queue.shift()!;
    const key = at.pathname;
    if (seen.has(key)) continue;
    const res = await fetch(at);
    const body = await res.text();
    seen.set(key, res.status);
    const refs = [
      ...body.matchAll(/(?:src|href)="([^"]+)"/g),
      ...body.matchAll(/"((?:\.?\/)?vendor\/[^"]+)"/g), // the import map's
      ...body.matchAll(/(?:from|import)\s*["'](\.{1,2}\/[^"']+)["']/g),
    ].map((m) => m[1]!).filter((ref) => !ref.startsWith('data:'));
    for (const ref of refs) queue.push(new URL(ref, at));
  }
  t.deepEqual([...seen].filter(([, status]) => status !== 200), [], `what the page asked for: ${[...seen.keys()].join(' ')}`);
  const paths = [...seen.keys()];
  for (const wanted of [/^\/$/, /^\/ui\/main\.js$/, /^\/ui\/timeline\.js$/, /^\/ui\/style\.css$/, /^\/vendor\/preact\./, /^\/vendor\/htm-preact\./]) {
    t.true(paths.some((p) => wanted.test(p)), `the page loaded nothing like ${wanted}: ${paths.join(' ')}`);
  }
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  t.is(((await exited) as [number | null])[0], 0, out);
});

// the two runs share the app, each on a new .skein/: serial
test.serial('the README Quickstart runs under tsx, as the README says', async (t) => {
  t.timeout(3 * 60_000);
  const { app } = await packed!;
  await quickstartRun(t, app, join(app, 'node_modules', '.bin', 'tsx'), ['main.ts']);
});

test.serial('the README Quickstart type-checks under strict tsc without skipLibCheck and runs compiled', async (t) => {
  t.timeout(6 * 60_000);
  const { app } = await packed!;
  const tsc = await run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', '.'], app);
  t.is(tsc.code, 0, `tsc rejected the Quickstart\n${tsc.output}`);
  if (tsc.code === 0) await quickstartRun(t, app, process.execPath, ['dist/main.js']);
});
