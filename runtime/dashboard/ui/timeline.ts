// The timeline chart of one workflow: an SVG row per step, its bar from when the step began to
// when it was recorded. Each bar is a <g data-step="<stepId>"> (API.md: tools and tests find
// them so). Waits (sleep, recv, getEvent, a child's result) are drawn hollow, failed steps red,
// retried ones with their count of tries; a child's row links to the child's page. Names are
// SVG text nodes, never markup.
import { html } from 'htm/preact';
import type { TimelineStep, WorkflowDetail } from '../contract.ts';
import { duration, time } from './format.ts';
import { href } from './route.ts';

const WIDTH = 960;
const LABEL = 220;
const ROW = 22;
const AXIS = 24;
const RIGHT = 90;

function at(iso: string | null): number | null {
  return iso ? Date.parse(iso) : null;
}

export function Timeline({ workflow, steps, now }: { workflow: WorkflowDetail; steps: TimelineStep[]; now: number }) {
  if (steps.length === 0) return html`<p class="muted">No steps recorded yet.</p>`;
  // the chart runs from the workflow's start (or its first step) to its end (or now, while it runs)
  const starts = steps.map((s) => at(s.startedAt) ?? Date.parse(s.completedAt));
  const t0 = Math.min(at(workflow.startedAt) ?? Infinity, ...starts);
  const t1 = Math.max(at(workflow.completedAt) ?? (workflow.status === 'PENDING' ? now : 0), ...steps.map((s) => Date.parse(s.completedAt)));
  const total = Math.max(t1 - t0, 1);
  const plot = WIDTH - LABEL - RIGHT;
  const x = (t: number) => LABEL + ((t - t0) / total) * plot;
  const height = AXIS + steps.length * ROW + 6;
  const ticks = [0, 0.25, 0.5, 0.75, 1];

  return html`<svg class="timeline" viewBox=${`0 0 ${WIDTH} ${height}`} width=${WIDTH} height=${height} role="img"
      aria-label=${`timeline of ${steps.length} steps over ${duration(total)}`}>
    ${ticks.map(
      (f) => html`<g class="tick">
        <line x1=${LABEL + f * plot} x2=${LABEL + f * plot} y1=${AXIS - 6} y2=${height} />
        <text x=${LABEL + f * plot} y=${AXIS - 10} text-anchor=${f === 0 ? 'start' : f === 1 ? 'end' : 'middle'}>${f === 0 ? time(new Date(t0).toISOString()) : `+${duration(f * total)}`}</text>
      </g>`,
    )}
    ${steps.map((s, i) => html`<${Bar} key=${s.stepId} step=${s} y=${AXIS + i * ROW} x=${x} start=${starts[i]!} />`)}
  </svg>`;
}

const WAITS = new Set(['sleep', 'wait', 'child']);

function Bar({ step, y, x, start }: { step: TimelineStep; y: number; x: (t: number) => number; start: number }) {
  const end = Date.parse(step.completedAt);
  const x0 = x(start);
  const w = Math.max(x(end) - x0, 2);
  const classes = ['bar', `kind-${step.kind}`];
  if (WAITS.has(step.kind)) classes.push('wait');
  if (step.error) classes.push('failed');
  if (step.attempts > 1) classes.push('retried');
  const took = step.startedAt ? duration(end - start) : 'instant';
  const tip = [
    `#${step.stepId} ${step.name} (${step.kind})`,
    `${took}${step.attempts > 1 ? `, ${step.attempts} tries` : ''}`,
    step.wakeAt ? `to wake at ${time(step.wakeAt)}` : '',
    step.error ? `${step.error.name}: ${step.error.message}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  const label = `${step.stepId}  ${step.name}`;
  return html`<g class=${classes.join(' ')} data-step=${step.stepId}>
    <title>${tip}</title>
    ${step.childWorkflowId
      ? html`<a href=${href('workflow', step.childWorkflowId)}><text class="label link" x=${LABEL - 8} y=${y + 15} text-anchor="end">${clip(label)} ↗</text></a>`
      : html`<text class="label" x=${LABEL - 8} y=${y + 15} text-anchor="end">${clip(label)}</text>`}
    <rect x=${x0} y=${y + 4} width=${w} height=${ROW - 8} rx="2" />
    <text class="took" x=${x0 + w + 4} y=${y + 15}>${took}${step.attempts > 1 ? ` ↻${step.attempts}` : ''}${step.error ? ' ✕' : ''}</text>
  </g>`;
}

/** A label that fits the label column. */
function clip(s: string, max = 30): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
