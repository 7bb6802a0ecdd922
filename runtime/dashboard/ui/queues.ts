// The queues page: depth (enqueued, delayed) and running work per queue, and a small chart of
// throughput: the API gives each queue's starts in the last minute, which the page samples at
// every refresh and keeps for the last minutes (in memory, so it survives moving between pages
// but not a reload). With a known rate limit, the row says how much of it is in use, and the
// chart draws it when it is a rate per minute or less (a longer period allows bursts above it).
import { html } from 'htm/preact';
import type { QueueInfo } from '../contract.ts';
import { get } from './api.ts';
import { duration } from './format.ts';
import { useLive } from './live.ts';
import { Failure, Freshness } from './parts.ts';
import { href } from './route.ts';

const WINDOW_MS = 10 * 60_000;
const samples = new Map<string, { t: number; n: number }[]>();

function sample(queues: QueueInfo[], now: number): void {
  for (const q of queues) {
    const list = samples.get(q.name) ?? [];
    list.push({ t: now, n: q.startedLastMinute });
    while (list.length && list[0]!.t < now - WINDOW_MS) list.shift();
    samples.set(q.name, list);
  }
}

/**
 * How much of the rate limit is in use, from the one count the API gives (starts in the last
 * minute). A limit over a minute or less: the last minute's rate against the limit's, an
 * average. Over a longer period: the last minute's starts alone, which the period's are at least.
 */
function rateUse(started: number, limit: { limit: number; periodMs: number }): { share: number; atLeast: boolean; how: string } {
  if (limit.periodMs <= 60_000) {
    return { share: started / perMinute(limit), atLeast: false, how: 'starts in the last minute against the limit, averaged over a minute' };
  }
  return { share: started / limit.limit, atLeast: true, how: `starts in the last minute alone, of ${limit.limit} allowed per ${duration(limit.periodMs)}` };
}

/** Starts per minute the rate limit allows. */
function perMinute(limit: { limit: number; periodMs: number }): number {
  return (limit.limit * 60_000) / limit.periodMs;
}

export function QueuesPage() {
  const live = useLive(async () => {
    const { queues } = await get<{ queues: QueueInfo[] }>('queues');
    sample(queues, Date.now());
    return queues;
  }, 'queues');
  const queues = live.data ?? [];
  return html`<section>
    <div class="heading"><h1>Queues</h1><${Freshness} at=${live.at} error=${live.error} /></div>
    <${Failure} error=${live.data ? null : live.error} />
    <table class="list queues">
      <thead><tr><th>Queue</th><th class="num">Enqueued</th><th class="num">Delayed</th><th class="num">Running</th><th>Limits</th>
        <th>Started per minute (up to the last ${WINDOW_MS / 60_000} minutes)</th><th>Rate-limit use</th></tr></thead>
      <tbody>
        ${queues.map((q) => html`<${Row} key=${q.name} q=${q} now=${live.at ?? Date.now()} />`)}
        ${live.data && queues.length === 0 ? html`<tr><td colspan="7" class="muted empty">No queues.</td></tr>` : null}
      </tbody>
    </table>
  </section>`;
}

function Row({ q, now }: { q: QueueInfo; now: number }) {
  const byExecutor = Object.entries(q.runningByExecutor);
  const limits = [
    q.concurrency !== null ? `concurrency ${q.concurrency}` : '',
    q.rateLimit ? `${q.rateLimit.limit} per ${duration(q.rateLimit.periodMs)}` : '',
  ].filter(Boolean);
  const use = q.rateLimit ? rateUse(q.startedLastMinute, q.rateLimit) : null;
  return html`<tr data-queue=${q.name}>
    <td class="name"><a href=${href('workflows', '', { queue: q.name })}>${q.name}</a></td>
    <td class="num">${q.enqueued}</td>
    <td class="num">${q.delayed}</td>
    <td class="num" title=${byExecutor.map(([e, n]) => `${e}: ${n}`).join('\n')}>${q.running}</td>
    <td class="small">${limits.join(', ') || html`<span class="muted">none known here</span>`}</td>
    <td><${Spark} points=${samples.get(q.name) ?? []} now=${now}
      limit=${q.rateLimit && q.rateLimit.periodMs <= 60_000 ? perMinute(q.rateLimit) : null} />
      <span class="small"> ${q.startedLastMinute}/min</span></td>
    <td>${use === null
      ? html`<span class="muted small">—</span>`
      : html`<svg class="meter" viewBox="0 0 100 10" width="100" height="10" role="img" aria-label="rate-limit use">
            <rect class="meter-back" width="100" height="10" rx="2" />
            <rect class=${`meter-fill ${use.share >= 0.9 ? 'hot' : ''}`} width=${Math.min(100, Math.round(use.share * 100))} height="10" rx="2" />
          </svg><span class="small" title=${use.how}> ${use.atLeast ? '≥' : '~'}${Math.round(use.share * 100)}%</span>`}</td>
  </tr>`;
}

const W = 240;
const H = 36;

/** A sparkline of the samples over the window, with the rate limit as a dashed line. */
function Spark({ points, now, limit }: { points: { t: number; n: number }[]; now: number; limit: number | null }) {
  // room above the highest value; the limit, when known, sits below the top edge
  const top = Math.max(1, limit ?? 0, ...points.map((p) => p.n)) * 1.25;
  // the window fills as samples come: the first one at the left edge until there are minutes of them
  const from = Math.max(now - WINDOW_MS, Math.min(now - 30_000, points[0]?.t ?? now));
  const x = (t: number) => ((t - from) / (now - from)) * W;
  const y = (n: number) => H - 2 - (n / top) * (H - 4);
  const line = points.map((p) => `${x(p.t).toFixed(1)},${y(p.n).toFixed(1)}`).join(' ');
  return html`<svg class="spark" viewBox=${`0 0 ${W} ${H}`} width=${W} height=${H} role="img" aria-label="starts per minute over time">
    <line class="base" x1="0" x2=${W} y1=${H - 2} y2=${H - 2} />
    ${limit !== null ? html`<line class="limit" x1="0" x2=${W} y1=${y(limit)} y2=${y(limit)}><title>rate limit: ${Math.round(limit)}/min</title></line>` : null}
    ${points.length > 1 ? html`<polyline points=${line} />` : null}
    ${points.length ? html`<circle cx=${x(points.at(-1)!.t)} cy=${y(points.at(-1)!.n)} r="2.5" />` : null}
  </svg>`;
}
