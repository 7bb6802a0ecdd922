// The workflows page: a filtered, paged list, newest first, refreshed live. The filter lives in
// the URL's hash (route.ts): the view reads it from there and writes every change back, so a
// refresh, a reload or a shared link keeps it. Filtering and paging happen on the server. Pages
// go by cursor (`after`/`before` a row's place, from the server's next and prev): any depth
// costs what the first page does, and rows arriving meanwhile do not shift a page being read.
// `offset` still works, for links made before.
import { html } from 'htm/preact';
import type { WorkflowPage, WorkflowStatusName, WorkflowSummary } from '../contract.ts';
import { get } from './api.ts';
import { localToIso, span, time } from './format.ts';
import { useLive } from './live.ts';
import { Badge, Failure, Freshness } from './parts.ts';
import { href, navigate } from './route.ts';

const STATUSES: WorkflowStatusName[] = ['PENDING', 'ENQUEUED', 'SUCCESS', 'ERROR', 'CANCELLED', 'MAX_RECOVERY_ATTEMPTS_EXCEEDED'];
const PAGE = 50;
const FILTERS = ['status', 'name', 'queue', 'idPrefix', 'since', 'until'] as const;

export function WorkflowsPage({ params }: { params: URLSearchParams }) {
  const filter: Record<string, string | undefined> = {};
  for (const k of FILTERS) filter[k] = params.get(k) ?? undefined;
  const place = { after: params.get('after') ?? undefined, before: params.get('before') ?? undefined, offset: params.get('offset') ?? undefined };
  const statuses = new Set((filter.status ?? '').split(',').filter(Boolean));

  const set = (changes: Record<string, string | undefined>, replace = true) => {
    // any change of filter starts again at the first page (the place is not in `filter`)
    navigate(href('workflows', '', { ...filter, ...changes }), replace);
  };
  const toggle = (s: string) => {
    const next = new Set(statuses);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    set({ status: [...next].join(',') || undefined }, false);
  };

  const query = {
    status: filter.status,
    name: filter.name?.trim(),
    queue: filter.queue?.trim(),
    idPrefix: filter.idPrefix?.trim(),
    since: localToIso(filter.since),
    until: localToIso(filter.until),
    limit: PAGE,
    ...place,
  };
  const live = useLive(() => get<WorkflowPage>('workflows', query), JSON.stringify(query));
  const rows = live.data?.workflows ?? [];

  const field = (name: (typeof FILTERS)[number], label: string, type = 'search', placeholder = '') =>
    html`<label>${label}<input type=${type} name=${name} value=${filter[name] ?? ''} placeholder=${placeholder}
      onInput=${(e: Event) => set({ [name]: (e.target as HTMLInputElement).value || undefined })} /></label>`;

  return html`<section>
    <div class="heading"><h1>Workflows</h1><${Freshness} at=${live.at} error=${live.error} /></div>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <div class="chips" role="group" aria-label="status">
        ${STATUSES.map(
          (s) => html`<button type="button" class=${`chip badge-${s.toLowerCase()}`} data-status=${s} aria-pressed=${statuses.has(s)}
            onClick=${() => toggle(s)}>${s === 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' ? 'DEAD LETTER' : s}</button>`,
        )}
      </div>
      ${field('name', 'Name', 'search', 'exact name')}
      ${field('queue', 'Queue', 'search', 'queue')}
      ${field('idPrefix', 'ID prefix', 'search', 'ID starts with')}
      ${field('since', 'Since', 'datetime-local')}
      ${field('until', 'Until', 'datetime-local')}
      <button type="button" class="clear" onClick=${() => navigate(href('workflows'), false)}>Clear</button>
    </form>
    <${Failure} error=${live.data ? null : live.error} />
    <table class="list workflows">
      <thead><tr><th>Status</th><th>Name</th><th>ID</th><th>Queue</th><th>Created</th><th>Duration</th><th>Attempts</th><th>Executor</th></tr></thead>
      <tbody>
        ${rows.map((w) => html`<${Row} key=${w.id} w=${w} />`)}
        ${live.data && rows.length === 0 ? html`<tr><td colspan="8" class="muted empty">No workflows match.</td></tr>` : null}
      </tbody>
    </table>
    <nav class="pager">
      <button type="button" data-page="newest" disabled=${!place.after && !place.before && !(Number(place.offset) > 0)} onClick=${() => set({}, false)}>Newest</button>
      <button type="button" data-page="newer" disabled=${!live.data?.prev} onClick=${() => set({ before: live.data!.prev! }, false)}>← Newer</button>
      <button type="button" data-page="older" disabled=${!live.data?.next} onClick=${() => set({ after: live.data!.next! }, false)}>Older →</button>
    </nav>
  </section>`;
}

function Row({ w }: { w: WorkflowSummary }) {
  return html`<tr data-workflow=${w.id}>
    <td><${Badge} status=${w.status} /></td>
    <td class="name">${w.name}</td>
    <td class="id"><a href=${href('workflow', w.id)}>${w.id}</a></td>
    <td>${w.queue ?? ''}</td>
    <td class="nowrap">${time(w.createdAt)}</td>
    <td class="nowrap">${span(w.startedAt, w.completedAt)}</td>
    <td class="num">${w.attempts}</td>
    <td class="muted small">${w.executorId}</td>
  </tr>`;
}
