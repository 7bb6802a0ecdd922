// The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core): a
// Skein with its admin server on a test database runs the workflows of
// test/fixtures/dashboard-page.ts, and the page is used as a person would: filter and page the
// list, open a workflow and read its timeline, cancel a waiting one after the confirmation, pause
// a schedule. A workflow named with HTML must show as text. Screenshots of the main pages go to
// test/.generated/screenshots/ (not tracked: a run leaves the checkout as it was); the ones the
// README shows are copies in docs/dashboard-*.png, renewed by hand when the page changes.
//
// Without a Chromium the tests skip, saying how to get one; on CI (CI=true) a missing Chromium
// fails instead, since .ci/run installs it.
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { WorkflowPage } from '../../runtime/dashboard/contract.ts';
import { Skein } from '../../runtime/index.ts';
import { testDatabase, unique, waitFor } from '../support/helpers.ts';
import {
  XSS_NAME,
  dashboardAwaitPayment,
  dashboardFailing,
  dashboardHostile,
  dashboardOrder,
  dashboardReport,
} from '../fixtures/dashboard-page.ts';

const INSTALL = 'install Chromium to run them: `apt-get install -y chromium` (Debian/Ubuntu), or set SKEIN_CHROMIUM=/path/to/chromium';

function findChromium(): string | null {
  const given = process.env.SKEIN_CHROMIUM;
  if (given) {
    if (!existsSync(given)) throw new Error(`SKEIN_CHROMIUM=${given}: no such file`);
    return given;
  }
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'].find((p) => existsSync(p)) ?? null;
}

const executable = findChromium();
if (!executable && process.env.CI) throw new Error(`CI runs the dashboard's browser tests, and found no Chromium: ${INSTALL}`);
if (!executable) console.warn(`test/dashboard/browser.test.ts: skipped, no Chromium found; ${INSTALL}`);
const browserTest = executable ? test.serial : test.serial.skip;

const shots = fileURLToPath(new URL('../.generated/screenshots/', import.meta.url));

interface World {
  skein: Skein;
  browser: Browser;
  base: string;
  orderId: string;
  childId: string;
  waiterId: string;
  failingId: string;
  hostileId: string;
}

let world: World | undefined;

test.before(async () => {
  if (!executable) return;
  const skein = await Skein.launch({
    workflows: new URL('../fixtures/dashboard-page.ts', import.meta.url),
    databaseUrl: await testDatabase(),
    threads: 2,
    executorId: unique('executor'),
    takeover: false,
    admin: { port: 0 },
    // a tight rate limit, so the queue shows work waiting and the limit in use
    queues: [{ name: 'reports', concurrency: 2, rateLimit: { limit: 5, periodMs: 60_000 } }, { name: 'email' }],
  });
  world = { skein } as World;
  world.browser = await chromium.launch({ executablePath: executable, args: ['--no-sandbox'] });
  world.base = skein.adminUrl!;

  world.orderId = unique('order');
  const order = await skein.start(dashboardOrder, { id: 'A-1042', items: 3 }, { id: world.orderId });
  world.failingId = unique('failing');
  const failing = await skein.start(dashboardFailing, 'card declined', { id: world.failingId });
  world.hostileId = unique('hostile');
  const hostile = await skein.start(dashboardHostile, '<script>window.__xss=2</script>', { id: world.hostileId });
  world.waiterId = unique('waiter');
  await skein.start(dashboardAwaitPayment, 'A-1043', { id: world.waiterId });
  await skein.createSchedule({ id: 'nightly-report', workflow: dashboardReport, cron: '0 0 3 * * *', timezone: 'UTC', input: 0 });

  // a few more orders, so the list has some length
  for (let i = 0; i < 3; i++) await (await skein.start(dashboardOrder, { id: `A-10${50 + i}`, items: i + 1 })).result();
  await order.result();
  await hostile.result();
  await failing.result().catch(() => {});
  world.childId = (await skein.getWorkflowSteps(world.orderId)).find((s) => s.childWorkflowId)!.childWorkflowId!;
  // the waiter is waiting on recv: its first step is recorded
  await waitFor(async () => (await skein.getWorkflowSteps(world!.waiterId)).length > 0, 30_000, 'the waiter recorded its step');
});

test.after.always(async () => {
  await world?.browser?.close();
  await world?.skein.shutdown({ timeoutMs: 2000 });
});

const problems = new WeakMap<Page, string[]>();

/** A fresh page at `hash`, closed when the test ends; `clean` checks it reported no error. */
async function open(t: ExecutionContext, hash: string): Promise<Page> {
  const page = await world!.browser.newPage({ viewport: { width: 1280, height: 640 } });
  t.teardown(() => page.close());
  const seen: string[] = [];
  problems.set(page, seen);
  page.on('pageerror', (e) => seen.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') seen.push(`console: ${m.text()}`);
  });
  const res = await page.goto(`${world!.base}/${hash}`);
  t.is(res?.status(), 200);
  return page;
}

/** Whatever the page logged as an error (a CSP violation, a module that failed) fails the test. */
function clean(t: ExecutionContext, page: Page): void {
  t.deepEqual(problems.get(page), [], 'the page reported errors');
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: `${shots}dashboard-${name}.png`, fullPage: true });
}

/** The IDs the list shows now. */
async function listed(page: Page): Promise<string[]> {
  return page.locator('table.workflows tbody tr[data-workflow]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-workflow')!));
}

browserTest('the workflows page lists them; filters by status and name change the list, live, and stay in the URL', async (t) => {
  const w = world!;
  const page = await open(t, '#/workflows');
  const res = await page.request.get(`${w.base}/`);
  t.regex(res.headers()['content-security-policy'] ?? '', /default-src 'self'/);
  await page.locator(`tr[data-workflow="${w.orderId}"]`).waitFor();
  const all = await listed(page);
  for (const id of [w.orderId, w.failingId, w.hostileId, w.waiterId]) t.true(all.includes(id), `${id} is listed`);
  await page.locator(`tr[data-workflow="${w.orderId}"] .badge-success`).waitFor();
  await shot(page, 'workflows');

  await page.click('button[data-status="ERROR"]');
  // the new filter's answer is in: the old list is gone (it empties while the answer is on its
  // way, which alone once passed this wait) and a row is shown again
  await page.waitForFunction(
    (id) => !document.querySelector(`tr[data-workflow="${id}"]`) && document.querySelector('table.workflows tbody tr[data-workflow]'),
    w.orderId,
  );
  const errors = await listed(page);
  t.deepEqual(errors, [w.failingId]);
  t.regex(page.url(), /status=ERROR/);
  // a refresh or two later, still filtered
  await page.waitForTimeout(3500);
  t.deepEqual(await listed(page), [w.failingId]);
  // and after a reload, from the URL
  await page.reload();
  await page.locator(`tr[data-workflow="${w.failingId}"]`).waitFor();
  t.is(await page.getAttribute('button[data-status="ERROR"]', 'aria-pressed'), 'true');
  t.deepEqual(await listed(page), [w.failingId]);

  await page.click('button.clear');
  await page.fill('input[name="name"]', 'dashboardAwaitPayment');
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('table.workflows tbody tr[data-workflow]')];
    return rows.length === 1 && rows[0]!.getAttribute('data-workflow') === id;
  }, w.waiterId);
  t.regex(page.url(), /name=dashboardAwaitPayment/);
  clean(t, page);
});

browserTest('the list pages by cursor: a page after a row, Newer back to the first page, Newest', async (t) => {
  const w = world!;
  // the place after the third newest row, as the server gives it out
  const top = (await (await fetch(`${w.base}/api/workflows?limit=3`)).json()) as WorkflowPage;
  const older = (await (await fetch(`${w.base}/api/workflows?after=${encodeURIComponent(top.next!)}`)).json()) as WorkflowPage;
  const page = await open(t, `#/workflows?after=${encodeURIComponent(top.next!)}`);
  await page.locator(`tr[data-workflow="${older.workflows[0]!.id}"]`).waitFor();
  t.deepEqual(await listed(page), older.workflows.map((x) => x.id));
  t.false(await page.isDisabled('button[data-page="newest"]'));
  // fewer than a page of newer rows: Newer leads to the first page, which has no newer one
  await page.click('button[data-page="newer"]');
  await page.locator(`tr[data-workflow="${top.workflows[0]!.id}"]`).waitFor();
  t.regex(page.url(), /before=/);
  await page.waitForFunction(() => document.querySelector<HTMLButtonElement>('button[data-page="newer"]')?.disabled === true);
  t.true(await page.isDisabled('button[data-page="older"]'), 'all rows fit on one page');
  await page.click('button[data-page="newest"]');
  await page.waitForFunction(() => !location.hash.includes('before='));
  t.true(await page.isDisabled('button[data-page="newest"]'));
  clean(t, page);
});

browserTest("one workflow's timeline has a bar per step, marks retries, failures and waits, and links its child", async (t) => {
  const w = world!;
  const steps = await w.skein.getWorkflowSteps(w.orderId);
  const page = await open(t, `#/workflow/${encodeURIComponent(w.orderId)}`);
  await page.locator('svg.timeline').waitFor();
  t.is(await page.locator('[data-step]').count(), steps.length);
  const drawn = await page.locator('[data-step]').evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('data-step'))));
  t.deepEqual(drawn, steps.map((s) => s.stepId));

  const bar = (name: string) => page.locator(`[data-step="${steps.find((s) => s.name === name)!.stepId}"]`);
  t.regex((await bar('reserve').getAttribute('class'))!, /\bretried\b/);
  t.regex(await bar('reserve').locator('text.took').textContent() ?? '', /↻3/);
  t.regex((await bar('coupon').getAttribute('class'))!, /\bfailed\b/);
  t.notRegex((await bar('price').getAttribute('class'))!, /\b(failed|retried|wait)\b/);
  const sleep = page.locator('[data-step].kind-sleep');
  t.is(await sleep.count(), 1);
  t.regex((await sleep.getAttribute('class'))!, /\bwait\b/);
  t.is(await page.locator(`svg.timeline a[href="#/workflow/${encodeURIComponent(w.childId)}"]`).count(), 1);

  // what it was given, what it returned, what it published
  await page.getByText("id: 'A-1042'").first().waitFor();
  await page.getByText('shipped: true').first().waitFor();
  await page.getByText('receipt', { exact: true }).waitFor();
  await shot(page, 'workflow');

  // the child's link leads to the child's page, which links back to its parent
  await page.click(`svg.timeline a[href="#/workflow/${encodeURIComponent(w.childId)}"]`);
  await page.locator('.workflow h1 .name', { hasText: 'dashboardChild' }).waitFor();
  t.is(await page.locator(`.facts a[href="#/workflow/${encodeURIComponent(w.orderId)}"]`).count(), 1);
  clean(t, page);
});

browserTest("a failed workflow's page shows its error and stack", async (t) => {
  const w = world!;
  const page = await open(t, `#/workflow/${encodeURIComponent(w.failingId)}`);
  await page.locator('.error-box .error-title', { hasText: 'TypeError: refused: card declined' }).waitFor();
  t.regex((await page.locator('.error-box pre.stack').textContent()) ?? '', /dashboard-page/);
  clean(t, page);
});

browserTest('cancelling a waiting workflow from its page, after the confirmation, makes it CANCELLED', async (t) => {
  const w = world!;
  const page = await open(t, `#/workflow/${encodeURIComponent(w.waiterId)}`);
  await page.locator('.workflow h1 .badge', { hasText: 'PENDING' }).waitFor();
  // asked first; going back changes nothing
  await page.click('button[data-action="cancel"]');
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  await dialog.locator('button.dismiss').click();
  await dialog.waitFor({ state: 'detached' });
  t.is((await w.skein.retrieve(w.waiterId).status())?.status, 'PENDING');

  await page.click('button[data-action="cancel"]');
  await page.locator('dialog[open] button.confirm').click();
  await page.locator('.workflow h1 .badge', { hasText: 'CANCELLED' }).waitFor();
  t.is((await w.skein.retrieve(w.waiterId).status())?.status, 'CANCELLED');
  t.true(await page.locator('button[data-action="cancel"]').isDisabled());
  t.false(await page.locator('button[data-action="resume"]').isDisabled());
  clean(t, page);
});

browserTest('a workflow named with HTML shows as text, in the list and on its page, and runs nothing', async (t) => {
  const w = world!;
  const page = await open(t, `#/workflows?name=${encodeURIComponent(XSS_NAME)}`);
  const row = page.locator(`tr[data-workflow="${w.hostileId}"]`);
  await row.waitFor();
  t.is(await row.locator('td.name').textContent(), XSS_NAME);
  t.is(await page.locator('img').count(), 0);
  t.is(await page.evaluate(() => (window as { __xss?: unknown }).__xss), undefined);

  await row.locator('td.id a').click();
  await page.locator('.workflow h1 .name').waitFor();
  t.is(await page.locator('.workflow h1 .name').textContent(), XSS_NAME);
  // its step has the same name, and its input and output are a script tag: all text
  await page.getByText("'<script>window.__xss=2</script>'").first().waitFor();
  t.is(await page.locator('[data-step]').count(), 1);
  t.is(await page.locator('img').count(), 0);
  t.is(await page.locator('main script').count(), 0);
  t.is(await page.evaluate(() => (window as { __xss?: unknown }).__xss), undefined);
  clean(t, page);
});

browserTest('the queues page shows what waits and runs per queue, and charts its starts against the rate limit', async (t) => {
  const w = world!;
  // started here, so the rate limit's minute has not passed when the page is read
  for (let i = 0; i < 8; i++) await w.skein.start(dashboardReport, i, { queue: 'reports' });
  await w.skein.start(dashboardReport, 99, { queue: 'reports', delayMs: 3_600_000 });
  for (let i = 0; i < 3; i++) await w.skein.start(dashboardReport, i, { queue: 'email' });
  const done = async (queue: string) => (await w.skein.listWorkflows({ queue, status: ['SUCCESS'] })).length;
  await waitFor(async () => (await done('reports')) === 5 && (await done('email')) === 3, 30_000, 'the queues ran what they may');
  const page = await open(t, '#/queues');
  const row = page.locator('tr[data-queue="reports"]');
  await row.waitFor();
  const cells = await row.locator('td').allTextContents();
  // 9 started on the queue: 5 within the rate limit, 3 waiting for it, 1 delayed by an hour
  t.is(cells[1], '3');
  t.is(cells[2], '1');
  t.regex(cells[4]!, /concurrency 2, 5 per 1 m$/);
  t.regex(cells[6]!, /~100%/);
  t.is(await row.locator('svg.spark line.limit').count(), 1);
  // the chart grows a point per refresh
  await page.waitForFunction(() => (document.querySelector('tr[data-queue="reports"] svg.spark polyline')?.getAttribute('points') ?? '').split(' ').length >= 3, null, { timeout: 15_000 });
  await shot(page, 'queues');
  clean(t, page);
});

browserTest('the schedules page pauses a schedule after the confirmation; the executors page shows this process alive', async (t) => {
  const w = world!;
  const page = await open(t, '#/schedules');
  const row = page.locator('tr[data-schedule="nightly-report"]');
  await row.locator('.badge', { hasText: 'ACTIVE' }).waitFor();
  t.regex((await row.textContent()) ?? '', /0 0 3 \* \* \*/);
  await row.locator('button[data-action="pause"]').click();
  await row.locator('dialog[open] button.confirm').click();
  await row.locator('.badge', { hasText: 'PAUSED' }).waitFor();
  t.true((await w.skein.listSchedules()).find((s) => s.id === 'nightly-report')!.paused);

  await page.click('header nav a[href="#/executors"]');
  const me = page.locator(`tr[data-executor="${w.skein.executorId}"]`);
  await me.locator('.badge', { hasText: 'ALIVE' }).waitFor();
  t.regex((await me.textContent()) ?? '', new RegExp(w.skein.appVersion));
  clean(t, page);
});

browserTest('with a token, the page opened once with ?token= keeps working on the cookie; without it the page is refused', async (t) => {
  const w = world!;
  const guarded = await Skein.launch({
    workflows: new URL('../fixtures/dashboard-page.ts', import.meta.url),
    databaseUrl: w.skein.databaseUrl,
    threads: 1,
    executorId: unique('executor'),
    takeover: false,
    admin: { port: 0, token: 's3cret/+=' },
  });
  t.teardown(() => guarded.shutdown({ timeoutMs: 2000 }));
  const context = await w.browser.newContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  const refused = await page.goto(`${guarded.adminUrl}/#/workflows`);
  t.is(refused?.status(), 401);
  await page.goto(`${guarded.adminUrl}/?token=${encodeURIComponent('s3cret/+=')}#/workflows?name=dashboardFailing`);
  // the token left the address bar; the filter in the hash stayed
  t.false(page.url().includes('token'));
  await page.locator(`tr[data-workflow="${w.failingId}"]`).waitFor();
  t.deepEqual(await listed(page), [w.failingId]);
});
