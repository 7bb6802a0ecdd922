// One workflow's page: what it is, its input, output and error, the timeline of its steps, its
// children, events and waiting messages, and the actions (cancel, resume, fork, restart), each
// confirmed in a dialog, then the page reloads (or goes to the workflow a fork made).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { EventInfo, MessageInfo, StepPage, TimelineStep, WorkflowDetail, WorkflowSummary } from '../contract.ts';
import { get, post, seg } from './api.ts';
import { span, time } from './format.ts';
import { useLive } from './live.ts';
import { Action, Badge, Failure, Freshness, Payload } from './parts.ts';
import { href, navigate } from './route.ts';
import { Timeline } from './timeline.ts';

interface Everything {
  workflow: WorkflowDetail;
  steps: TimelineStep[];
  /** the server sends the first steps of a very long workflow only (it says hasMore beside them) */
  moreSteps: boolean;
  children: WorkflowSummary[];
  events: EventInfo[];
  messages: MessageInfo[];
}

async function load(id: string): Promise<Everything> {
  const base = `workflows/${seg(id)}`;
  const [workflow, steps, children, events, messages] = await Promise.all([
    get<WorkflowDetail>(base),
    get<StepPage>(`${base}/steps`),
    get<{ workflows: WorkflowSummary[] }>(`${base}/children`),
    get<{ events: EventInfo[] }>(`${base}/events`),
    get<{ messages: MessageInfo[] }>(`${base}/messages`),
  ]);
  return { workflow, steps: steps.steps, moreSteps: steps.hasMore, children: children.workflows, events: events.events, messages: messages.messages };
}

export function WorkflowPage({ id }: { id: string }) {
  const live = useLive(() => load(id), id);
  if (!live.data) {
    return html`<section><h1 class="id">${id}</h1>${live.error ? html`<${Failure} error=${live.error} />` : html`<p class="muted">loading…</p>`}</section>`;
  }
  const { workflow: w, steps, moreSteps, children, events, messages } = live.data;
  return html`<section class="workflow">
    <div class="heading">
      <h1><span class="name">${w.name}</span> <${Badge} status=${w.status} /></h1>
      <${Freshness} at=${live.at} error=${live.error} />
    </div>
    <div class="id muted">${w.id}</div>
    <${Actions} w=${w} steps=${steps.length} reload=${live.reload} />
    <${Facts} w=${w} />
    <div class="columns">
      <div><h2>Input</h2><${Payload} value=${w.input} /></div>
      <div><h2>Output</h2><${Payload} value=${w.output} empty=${w.completedAt ? 'none' : 'not yet'} /></div>
    </div>
    ${w.error
      ? html`<div class="error-box"><h2>Error</h2>
          <div class="error-title">${w.error.name}: ${w.error.message}</div>
          ${w.error.stack ? html`<pre class="stack">${w.error.stack}</pre>` : null}</div>`
      : null}
    <h2>Timeline <span class="muted small">${moreSteps ? `the first ${steps.length} steps: more follow` : `${steps.length} steps`}</span></h2>
    <div class="chart"><${Timeline} workflow=${w} steps=${steps} now=${live.at ?? Date.now()} /></div>
    <div class="legend small muted">
      <span class="key key-step"></span> step <span class="key key-wait"></span> wait (sleep, recv, getEvent, child)
      <span class="key key-failed"></span> failed  ↻n tries
    </div>
    <${Steps} steps=${steps} />
    <h2>Children <span class="muted small">${children.length}</span></h2>
    ${children.length === 0
      ? html`<p class="muted">None.</p>`
      : html`<table class="list"><thead><tr><th>Status</th><th>Name</th><th>ID</th><th>Created</th><th>Duration</th></tr></thead><tbody>
          ${children.map((c) => html`<tr key=${c.id}><td><${Badge} status=${c.status} /></td><td>${c.name}</td>
            <td class="id"><a href=${href('workflow', c.id)}>${c.id}</a></td><td>${time(c.createdAt)}</td><td>${span(c.startedAt, c.completedAt)}</td></tr>`)}
        </tbody></table>`}
    <div class="columns">
      <div><h2>Events <span class="muted small">${events.length}</span></h2>
        ${events.length === 0
          ? html`<p class="muted">None.</p>`
          : html`<table class="list"><thead><tr><th>Key</th><th>Value</th><th>Set</th></tr></thead><tbody>
              ${events.map((e) => html`<tr key=${e.key}><td>${e.key}</td><td><${Payload} value=${e.value} /></td><td class="nowrap">${time(e.updatedAt)}</td></tr>`)}
            </tbody></table>`}
      </div>
      <div><h2>Waiting messages <span class="muted small">${messages.length}</span></h2>
        ${messages.length === 0
          ? html`<p class="muted">None.</p>`
          : html`<table class="list"><thead><tr><th>Topic</th><th>Message</th><th>Sent</th></tr></thead><tbody>
              ${messages.map((m, i) => html`<tr key=${i}><td>${m.topic || html`<span class="muted">(none)</span>`}</td><td><${Payload} value=${m.message} /></td><td class="nowrap">${time(m.createdAt)}</td></tr>`)}
            </tbody></table>`}
      </div>
    </div>
  </section>`;
}

function Facts({ w }: { w: WorkflowDetail }) {
  const link = (id: string | null) => (id ? html`<a href=${href('workflow', id)}>${id}</a>` : '—');
  const facts: [string, unknown][] = [
    ['Queue', w.queue ?? '—'],
    ['Executor', w.executorId],
    ['App version', w.appVersion ?? '—'],
    ['Attempts', w.attempts],
    ['Priority', w.priority],
    ['Created', time(w.createdAt)],
    ['Started', time(w.startedAt)],
    ['Completed', time(w.completedAt)],
    ['Duration', span(w.startedAt, w.completedAt)],
    ['Parent', link(w.parentId)],
    ['Forked from', link(w.forkedFrom)],
    ['Schedule', w.scheduleId ?? '—'],
    ['Deadline', time(w.deadline)],
    ['Start at', time(w.startAt)],
    ['Dedup ID', w.dedupId ?? '—'],
  ];
  return html`<dl class="facts">${facts.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}

function Actions({ w, steps, reload }: { w: WorkflowDetail; steps: number; reload: () => void }) {
  const [startStep, setStartStep] = useState(0);
  const running = w.status === 'PENDING' || w.status === 'ENQUEUED';
  const resumable = w.status === 'CANCELLED' || w.status === 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' || w.status === 'ENQUEUED';
  const base = `workflows/${seg(w.id)}`;
  const goTo = (r: { id?: string }) => (r.id ? navigate(href('workflow', r.id)) : reload());
  return html`<div class="actions">
    <${Action} label="Cancel" danger disabled=${!running} why="only a pending or enqueued workflow can be cancelled"
      question=${`Cancel ${w.name} (${w.id})? Its children are cancelled too.`} run=${() => post(`${base}/cancel`)} done=${reload} />
    <${Action} label="Resume" disabled=${!resumable} why="only a cancelled, dead-lettered or enqueued workflow can be resumed"
      question=${`Resume ${w.id} from its last completed step?`} run=${() => post(`${base}/resume`)} done=${reload} />
    <${Action} label="Fork" question=${`Start a new workflow with ${w.id}'s input, copying its steps before the one chosen?`}
      run=${() => post(`${base}/fork`, { startStep })} done=${goTo}>
      <label>Start at step <input type="number" name="startStep" min="0" max=${steps} value=${startStep}
        onInput=${(e: Event) => setStartStep(Math.max(0, Number((e.target as HTMLInputElement).value) || 0))} /></label>
    </${Action}>
    <${Action} label="Restart" question=${`Start ${w.name} again from its first step, as a new workflow with the same input?`}
      run=${() => post(`${base}/restart`)} done=${goTo} />
  </div>`;
}

function Steps({ steps }: { steps: TimelineStep[] }) {
  if (steps.length === 0) return null;
  return html`<details class="steps"><summary>Steps as a table</summary>
    <table class="list"><thead><tr><th>#</th><th>Name</th><th>Kind</th><th>Started</th><th>Took</th><th>Tries</th><th>Result</th></tr></thead><tbody>
      ${steps.map(
        (s) => html`<tr key=${s.stepId} class=${s.error ? 'failed' : ''}>
          <td class="num">${s.stepId}</td><td>${s.name}</td><td>${s.kind}</td><td class="nowrap">${time(s.startedAt)}</td>
          <td class="nowrap">${span(s.startedAt ?? s.completedAt, s.completedAt)}</td><td class="num">${s.attempts}</td>
          <td>${s.error
            ? html`<span class="error-title">${s.error.name}: ${s.error.message}</span>`
            : s.childWorkflowId
              ? html`<a href=${href('workflow', s.childWorkflowId)}>${s.childWorkflowId}</a>`
              : html`<${Payload} value=${s.output} />`}</td>
        </tr>`,
      )}
    </tbody></table></details>`;
}
