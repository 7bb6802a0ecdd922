// The schedules page: each schedule's cron, next tick and state, with pause, resume and trigger
// (a run now, besides the ticks), each confirmed first.
import { html } from 'htm/preact';
import type { ScheduleSummary } from '../contract.ts';
import { get, post, seg } from './api.ts';
import { relative, time } from './format.ts';
import { useLive } from './live.ts';
import { Action, Failure, Freshness } from './parts.ts';
import { href } from './route.ts';

export function SchedulesPage() {
  const live = useLive(() => get<{ schedules: ScheduleSummary[] }>('schedules').then((r) => r.schedules), 'schedules');
  const list = live.data ?? [];
  return html`<section>
    <div class="heading"><h1>Schedules</h1><${Freshness} at=${live.at} error=${live.error} /></div>
    <${Failure} error=${live.data ? null : live.error} />
    <table class="list schedules">
      <thead><tr><th>ID</th><th>Workflow</th><th>Cron</th><th>Time zone</th><th>Queue</th><th>Next tick</th><th>State</th><th></th></tr></thead>
      <tbody>
        ${list.map((s) => {
          const base = `schedules/${seg(s.id)}`;
          return html`<tr key=${s.id} data-schedule=${s.id}>
            <td class="name">${s.id}</td>
            <td><a href=${href('workflows', '', { name: s.workflow })}>${s.workflow}</a></td>
            <td><code>${s.cron}</code></td>
            <td>${s.timezone}</td>
            <td>${s.queue ?? ''}</td>
            <td class="nowrap">${s.paused ? html`<span class="muted">paused</span>` : html`${time(s.nextAt)} <span class="muted small">${relative(s.nextAt)}</span>`}</td>
            <td>${s.paused ? html`<span class="badge badge-cancelled">PAUSED</span>` : html`<span class="badge badge-success">ACTIVE</span>`}</td>
            <td class="actions">
              ${s.paused
                ? html`<${Action} label="Resume" question=${`Resume schedule ${s.id}? Ticks missed while paused are not run.`} run=${() => post(`${base}/resume`)} done=${live.reload} />`
                : html`<${Action} label="Pause" question=${`Pause schedule ${s.id}?`} run=${() => post(`${base}/pause`)} done=${live.reload} />`}
              <${Action} label="Trigger" question=${`Run ${s.workflow} now, once, besides the schedule's ticks?`} run=${() => post(`${base}/trigger`)} done=${live.reload} />
            </td>
          </tr>`;
        })}
        ${live.data && list.length === 0 ? html`<tr><td colspan="8" class="muted empty">No schedules.</td></tr>` : null}
      </tbody>
    </table>
  </section>`;
}
