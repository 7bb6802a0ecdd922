// Who may use the dashboard's API and page, and what a workflow's own texts become: the token
// (header, cookie, ?token=), the loopback Host of a server without one, request bodies, and
// markup and huge payloads coming back as bounded JSON text.
import test from 'ava';
import type * as C from '../../runtime/dashboard/contract.ts';
import * as wf from '../fixtures/dashboard.ts';
import { launch, unique } from '../support/helpers.ts';
import { call, enc, post, serve } from './server.ts';

const workflows = new URL('../fixtures/dashboard.ts', import.meta.url);
const TOKEN = 's3cret-token';

test('bound beyond loopback with a token, every API call needs it: as a Bearer header, or the cookie that ?token= sets', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein, { admin: { token: TOKEN, host: '0.0.0.0' } });
  const id = unique('tok');
  await skein.run(wf.echo, 1, { id });
  const paths = ['/api/workflows', `/api/workflows/${id}`, `/api/workflows/${id}/steps`, `/api/workflows/${id}/children`,
    `/api/workflows/${id}/events`, `/api/workflows/${id}/messages`, '/api/queues', '/api/schedules', '/api/executors', '/api/metrics', '/'];
  for (const path of paths) {
    const refused = await call(s.url, path);
    t.is(refused.status, 401, path);
    t.is(refused.headers['www-authenticate'], 'Bearer');
    t.is((await call(s.url, path, { headers: { authorization: 'Bearer wrong' } })).status, 401, path);
    const expected = path === '/api/metrics' ? 404 : 200; // this server runs no workflows of its own
    t.is((await call(s.url, path, { headers: { authorization: `Bearer ${TOKEN}` } })).status, expected, path);
  }
  t.regex((await call(s.url, '/api/workflows')).json.error, /token/, 'an ApiError');
  // reached by another name (the host's address, a proxy's): the token decides, not the Host
  const named = { host: `dashboard.example:${new URL(s.url).port}` };
  t.is((await call(s.url, '/api/workflows', { headers: named })).status, 401);
  t.is((await call(s.url, '/api/workflows', { headers: { ...named, authorization: `Bearer ${TOKEN}` } })).status, 200);
  t.is((await call(s.url, `/api/workflows/${id}/cancel`, { method: 'POST', headers: { 'x-skein-csrf': s.csrf } })).status, 401);
  t.is((await call(s.url, '/healthz')).status, 401, 'everything, as before');

  const opened = await call(s.url, `/api/workflows?token=${TOKEN}`);
  t.is(opened.status, 200);
  t.is(opened.headers['set-cookie']?.[0], `skein_token=${TOKEN}; HttpOnly; SameSite=Strict; Path=/`);
  const cookie = { cookie: `other=1; skein_token=${TOKEN}` };
  for (const path of paths) t.is((await call(s.url, path, { headers: cookie })).status, path === '/api/metrics' ? 404 : 200, path);
  t.is((await call(s.url, '/api/workflows', { headers: { cookie: 'skein_token=wrong' } })).status, 401);
  t.is((await call(s.url, `/api/workflows?token=wrong`)).status, 401);
  t.is((await call(s.url, `/api/workflows?token=${TOKEN}`, { method: 'POST', headers: { 'x-skein-csrf': s.csrf } })).status, 401, 'not on a POST');

  // the page: the cookie is set and the token leaves the address bar
  const page = await call(s.url, `/?token=${TOKEN}&tab=queues`);
  t.is(page.status, 303);
  t.is(page.headers.location, '/?tab=queues');
  t.truthy(page.headers['set-cookie']);
  const html = await call(s.url, '/', { headers: cookie });
  t.is(html.status, 200);
  t.true(html.text.includes(s.csrf));

  // the cookie is no CSRF value: a change needs the header too
  t.is((await call(s.url, `/api/workflows/${id}/cancel`, { method: 'POST', headers: cookie })).status, 403);
  t.is((await call(s.url, `/api/workflows/${id}/cancel`, { method: 'POST', headers: { ...cookie, 'x-skein-csrf': s.csrf } })).status, 200);
});

test('without a token, the page and API answer only requests to a loopback host (DNS rebinding)', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const port = new URL(s.url).port;
  for (const host of [`evil.example:${port}`, 'evil.example', `10.0.0.1:${port}`]) {
    t.is((await call(s.url, '/api/workflows', { headers: { host } })).status, 403, host);
    t.is((await call(s.url, '/', { headers: { host } })).status, 403, host);
  }
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) {
    t.is((await call(s.url, '/api/workflows', { headers: { host } })).status, 200, host);
  }
  t.is((await call(s.url, '/healthz', { headers: { host: 'evil.example' } })).status, 200, '/healthz as before');
  t.is((await call(s.url, '/nothing')).status, 404);
  t.is((await call(s.url, '/metrics')).status, 404, 'no metrics here');
});

test('request bodies: JSON only, and small', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const id = unique('body');
  await skein.run(wf.echo, 1, { id });
  const fork = `/api/workflows/${enc(id)}/fork`;
  const headers = { 'x-skein-csrf': s.csrf };
  t.is((await call(s.url, fork, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'startStep=0' })).status, 415);
  t.is((await call(s.url, fork, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"startStep":' })).status, 400);
  const big = await call(s.url, fork, { method: 'POST', headers, body: { startStep: 0, pad: 'x'.repeat(70_000) } });
  t.is(big.status, 413);
  t.is((await call(s.url, fork, { method: 'POST', headers, body: [] })).status, 400);
  t.is((await post(s, `/api/workflows/${enc(id)}/cancel`, { force: true })).status, 400, 'a body where none is taken');
  t.is((await post(s, fork)).status, 200, 'no body: a fork from step 0');
  t.is((await call(s.url, '/api/workflows', { method: 'DELETE' })).status, 405);
});

test('markup in a name, input or error comes back as JSON text; big payloads are cut or shown by size', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const id = unique('xss');
  await t.throwsAsync(skein.run(wf.hostile, wf.HOSTILE, { id }));
  const listed = await call<C.WorkflowPage>(s.url, `/api/workflows?name=${enc(wf.HOSTILE)}`);
  t.is(listed.headers['content-type'], 'application/json; charset=utf-8');
  t.is(listed.headers['x-content-type-options'], 'nosniff');
  t.is(listed.json.workflows[0]!.name, wf.HOSTILE);
  const detail = (await call<C.WorkflowDetail>(s.url, `/api/workflows/${enc(id)}`)).json;
  t.is(detail.name, wf.HOSTILE);
  t.is(detail.input!.text, `'${wf.HOSTILE}'`);
  t.like(detail.error, { name: 'Error', message: `failed on ${wf.HOSTILE}` });
  t.true(detail.error!.stack!.includes(wf.HOSTILE));

  const long = unique('long');
  await skein.run(wf.echo, 'y'.repeat(100_000), { id: long });
  const cut = (await call<C.WorkflowDetail>(s.url, `/api/workflows/${long}`)).json.input!;
  t.true(cut.truncated);
  t.true(cut.text.length <= 20_000 && cut.text.startsWith("'yyy"), `${cut.text.length} characters`);
  t.true(cut.bytes > 100_000);

  const huge = unique('huge');
  await skein.run(wf.echo, 'z'.repeat(2_000_000), { id: huge });
  const sized = (await call<C.WorkflowDetail>(s.url, `/api/workflows/${huge}`)).json;
  t.like(sized.input, { truncated: true, text: `(${sized.input!.bytes} bytes)` });
  t.true(sized.input!.bytes > 2_000_000);
  const step = (await call<{ steps: C.TimelineStep[] }>(s.url, `/api/workflows/${huge}/steps`)).json.steps[0]!;
  t.like(step.output, { truncated: true, text: `(${step.output!.bytes} bytes)` });
});

test("the Skein's own admin server serves the page; the CSRF value in its meta tag lets a change through", async (t) => {
  const skein = await launch(t, { workflows, admin: { port: 0 } });
  const h = await skein.start(wf.waiter, null);
  const page = await call(skein.adminUrl!, '/');
  t.is(page.status, 200);
  t.regex(String(page.headers['content-type']), /^text\/html/);
  const csrf = /<meta name="skein-csrf" content="([^"]+)">/.exec(page.text)?.[1];
  t.truthy(csrf);
  const cancel = `/api/workflows/${enc(h.id)}/cancel`;
  t.is((await call(skein.adminUrl!, cancel, { method: 'POST', headers: { 'x-skein-csrf': 'not-it' } })).status, 403);
  t.is((await call(skein.adminUrl!, cancel, { method: 'POST', headers: { 'x-skein-csrf': csrf!, origin: skein.adminUrl! } })).status, 200);
  t.is((await skein.retrieve(h.id).status())!.status, 'CANCELLED');
});
