// Paging the workflow list by cursor (GET /api/workflows with after= / before=, from a page's
// next and prev): every row once, in both directions, rows of one millisecond told apart by
// their microseconds, new rows shifting no page; offset pages still work and give cursors.
import test from 'ava';
import type * as C from '../../runtime/dashboard/contract.ts';
import * as wf from '../fixtures/dashboard.ts';
import { launch, sql, unique } from '../support/helpers.ts';
import { call, enc, serve } from './server.ts';

const workflows = new URL('../fixtures/dashboard.ts', import.meta.url);

test('pages by cursor: each row once both ways, rows of one millisecond apart by their microseconds, new rows shift no page', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const prefix = unique('page');
  const ids = Array.from({ length: 9 }, (_, i) => `${prefix}-${i}`);
  for (const id of ids) await skein.run(wf.echo, 0, { id });
  // all nine in one millisecond: three share a microsecond (a group commit's rows share its
  // time), three more at +400 µs, three at +800 µs. A cursor kept to the millisecond loses them.
  const at = ids.map((_, i) => `2026-01-01T00:00:00.${String(1000 + 400 * Math.floor(i / 3)).padStart(6, '0')}Z`);
  await sql(
    `UPDATE skein.workflow_status w SET created_at = t.at FROM unnest($1::text[], $2::timestamptz[]) t(id, at) WHERE w.id = t.id`,
    [ids, at],
  );
  const list = async (query: string) => {
    const res = await call<C.WorkflowPage>(s.url, `/api/workflows?idPrefix=${prefix}&limit=2&${query}`);
    t.is(res.status, 200, query);
    return res.json;
  };
  const shown = (p: C.WorkflowPage) => p.workflows.map((w) => Number(w.id.slice(prefix.length + 1)));

  const pages: number[][] = [];
  let page = await list('');
  t.is(page.prev, null, 'the first page has no newer one');
  t.regex(page.next!, /^2026-01-01T00:00:00\.001800Z~/);
  for (;;) {
    pages.push(shown(page));
    if (!page.next) break;
    page = await list(`after=${enc(page.next)}`);
  }
  t.deepEqual(pages, [[8, 7], [6, 5], [4, 3], [2, 1], [0]]);
  t.false(page.hasMore);

  // back up from the last page: the same pages, the first one with no prev
  const back: number[][] = [];
  while (page.prev) {
    page = await list(`before=${enc(page.prev)}`);
    back.push(shown(page));
  }
  t.deepEqual(back, [[2, 1], [4, 3], [6, 5], [8, 7]]);

  // a row arriving meanwhile: the second page stays what it was by cursor, not by offset
  const first = await list('');
  await skein.run(wf.echo, 0, { id: `${prefix}-9` });
  t.deepEqual(shown(await list(`after=${enc(first.next!)}`)), [6, 5]);
  const byOffset = await list('offset=2');
  t.deepEqual(shown(byOffset), [7, 6]);
  t.deepEqual(shown(await list(`after=${enc(byOffset.next!)}`)), [5, 4], 'an offset page gives cursors too');
  t.deepEqual(shown(await list(`before=${enc(byOffset.prev!)}`)), [9, 8]);

  // with a filter: the cursor is a place in the whole order, the filter still applies
  t.deepEqual(shown(await list(`status=SUCCESS&after=${enc(first.next!)}`)), [6, 5]);
});

test('a bad cursor, or two places at once, is a 400 naming the parameter', async (t) => {
  const skein = await launch(t, { workflows });
  const s = await serve(t, skein);
  const good = `2026-01-01T00:00:00.001000Z~${unique('id')}`;
  for (const [query, named] of [
    ['after=yesterday', /after must be a cursor/],
    ['before=2026-01-01T00:00:00.001Z~x', /before must be a cursor/],
    ['after=2026-02-30T00:00:00.000000Z~x', /after must be a cursor/],
    ['after=2026-01-01T00:00:00.000000Z~', /after must be a cursor/],
    [`after=${enc(good)}&before=${enc(good)}`, /after and before cannot be combined/],
    [`after=${enc(good)}&offset=50`, /after and offset cannot be combined/],
  ] as const) {
    const bad = await call(s.url, `/api/workflows?${query}`);
    t.is(bad.status, 400, query);
    t.regex(bad.json.error, named, query);
  }
  // an ID may hold '~' and anything else: the time has a fixed form, the first '~' ends it
  const base = unique('tilde');
  await skein.run(wf.echo, 0, { id: `${base}-older` });
  await skein.run(wf.echo, 0, { id: `${base}~/%ü ~` });
  const top = (await call<C.WorkflowPage>(s.url, `/api/workflows?idPrefix=${base}&limit=1`)).json;
  t.deepEqual(top.workflows.map((w) => w.id), [`${base}~/%ü ~`]);
  const next = (await call<C.WorkflowPage>(s.url, `/api/workflows?idPrefix=${base}&limit=1&after=${enc(top.next!)}`)).json;
  t.deepEqual(next.workflows.map((w) => w.id), [`${base}-older`]);
});
