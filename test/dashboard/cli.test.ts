// `skein dashboard` as a user runs it: the built bin (`npm run build` first) in a child process,
// serving the API on the database until SIGTERM, and refusing a non-loopback host without a token.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as wf from '../fixtures/dashboard.ts';
import { cliPath, skeinCli } from '../support/cli.ts';
import { launch, testDatabase, unique } from '../support/helpers.ts';
import { call } from './server.ts';

const workflows = new URL('../fixtures/dashboard.ts', import.meta.url);

/** Starts `skein dashboard <args>` and resolves with the URL it prints, and the child. */
async function dashboard(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [cliPath, 'dashboard', '--db', await testDatabase(), '--port', '0', '--json', ...args], { env });
  let out = '';
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 60 s:\n${out}${err}`)), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"url": "([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited (${code}) before serving:\n${out}${err}`)));
  });
  return { child, url: new URL(url), stderr: () => err };
}

test('skein dashboard serves the API and /healthz on the database, and stops on SIGTERM', async (t) => {
  const skein = await launch(t, { workflows });
  const id = unique('cli');
  await skein.run(wf.echo, 'hello', { id });
  const { child, url, stderr } = await dashboard([]);
  t.teardown(() => child.kill('SIGKILL'));
  t.is(url.pathname, '/');
  t.is(url.hostname, '127.0.0.1');
  const base = url.origin;

  const list = await call(base, `/api/workflows?idPrefix=${id}`);
  t.is(list.status, 200);
  t.deepEqual(list.json.workflows.map((w: { id: string; status: string }) => [w.id, w.status]), [[id, 'SUCCESS']]);
  t.is((await call(base, `/api/workflows/${id}`)).json.output.text, "'hello'");
  t.is((await call(base, '/healthz')).status, 200);
  t.is((await call(base, '/api/metrics')).status, 404, 'it runs no workflows');
  t.is((await call(base, '/metrics')).status, 404);

  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  t.is(code, 0, stderr());
});

test('skein dashboard with a token (flag or SKEIN_DASHBOARD_TOKEN) prints it in the URL and requires it', async (t) => {
  const env = { ...process.env, SKEIN_DASHBOARD_TOKEN: 'from-env' };
  const { child, url } = await dashboard([], env);
  t.teardown(() => child.kill('SIGKILL'));
  t.is(url.searchParams.get('token'), 'from-env');
  t.is((await call(url.origin, '/api/workflows')).status, 401);
  t.is((await call(url.origin, '/api/workflows', { headers: { authorization: 'Bearer from-env' } })).status, 200);
  child.kill('SIGTERM');
  await once(child, 'exit');

  const refused = await skeinCli(['dashboard', '--db', await testDatabase(), '--host', '0.0.0.0', '--port', '0']);
  t.is(refused.code, 1, refused.output);
  t.regex(refused.stderr, /^skein: --token \(or SKEIN_DASHBOARD_TOKEN\) is required to listen on "0\.0\.0\.0"/);
  const badPort = await skeinCli(['dashboard', '--port', '70000']);
  t.is(badPort.code, 1);
  t.regex(badPort.stderr, /--port/);
});
