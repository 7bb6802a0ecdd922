// The executors page: every process registered on this database, whether it is alive (it holds
// its lock or beat recently), when it was last seen and which app version it runs.
import { html } from 'htm/preact';
import type { ExecutorSummary } from '../contract.ts';
import { get } from './api.ts';
import { relative, time } from './format.ts';
import { useLive } from './live.ts';
import { Failure, Freshness } from './parts.ts';

export function ExecutorsPage() {
  const live = useLive(() => get<{ executors: ExecutorSummary[] }>('executors').then((r) => r.executors), 'executors');
  const list = live.data ?? [];
  return html`<section>
    <div class="heading"><h1>Executors</h1><${Freshness} at=${live.at} error=${live.error} /></div>
    <${Failure} error=${live.data ? null : live.error} />
    <table class="list executors">
      <thead><tr><th>Executor</th><th>State</th><th>App version</th><th>Host</th><th class="num">PID</th><th>Started</th><th>Last seen</th></tr></thead>
      <tbody>
        ${list.map(
          (e) => html`<tr key=${e.executorId} data-executor=${e.executorId}>
            <td class="name">${e.executorId}</td>
            <td>${e.alive ? html`<span class="badge badge-success">ALIVE</span>` : html`<span class="badge badge-error">GONE</span>`}</td>
            <td><code>${e.appVersion}</code></td>
            <td>${e.host}</td>
            <td class="num">${e.pid}</td>
            <td class="nowrap">${time(e.startedAt)}</td>
            <td class="nowrap">${time(e.lastSeenAt)} <span class="muted small">${relative(e.lastSeenAt)}</span></td>
          </tr>`,
        )}
        ${live.data && list.length === 0 ? html`<tr><td colspan="7" class="muted empty">No executors.</td></tr>` : null}
      </tbody>
    </table>
  </section>`;
}
