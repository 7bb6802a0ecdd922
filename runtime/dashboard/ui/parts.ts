// Small pieces every view uses: status badges, payload blocks, the action button with its
// confirmation dialog, the refresh line. Every value a workflow wrote goes in as a child text,
// which Preact renders as a text node: never as HTML.
import { html } from 'htm/preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ActionResult, Shown, WorkflowStatusName } from '../contract.ts';
import { duration } from './format.ts';

export function Badge({ status }: { status: WorkflowStatusName | string }) {
  const label = status === 'MAX_RECOVERY_ATTEMPTS_EXCEEDED' ? 'DEAD LETTER' : status;
  return html`<span class=${`badge badge-${status.toLowerCase()}`} title=${status}>${label}</span>`;
}

/** A decoded payload as text, saying when it was cut. */
export function Payload({ value, empty = '—' }: { value: Shown | null; empty?: string }) {
  if (!value) return html`<span class="muted">${empty}</span>`;
  return html`<div>
    <pre class="payload">${value.text}</pre>
    ${value.truncated ? html`<div class="muted small">cut for display: ${value.bytes} bytes stored</div>` : null}
  </div>`;
}

/** "refreshed 2 s ago", or the reason the last refresh failed (the last good data stays shown). */
export function Freshness({ at, error }: { at: number | null; error: string | null }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  if (error) return html`<span class="fresh fresh-error" role="status">refresh failed: ${error}</span>`;
  if (at === null) return html`<span class="fresh" role="status">loading…</span>`;
  const secs = Math.floor((Date.now() - at) / 1000);
  return html`<span class="fresh" role="status">${secs < 1 ? 'refreshed just now' : `refreshed ${duration(secs * 1000)} ago`}</span>`;
}

export function Failure({ error }: { error: string | null }) {
  return error ? html`<p class="failure" role="alert">${error}</p>` : null;
}

interface ActionProps {
  label: string;
  /** what the dialog asks */
  question: string;
  disabled?: boolean;
  /** why it is disabled */
  why?: string;
  danger?: boolean;
  /** extra fields of the dialog (fork's step) */
  children?: ComponentChildren;
  run: () => Promise<ActionResult>;
  done: (result: ActionResult) => void;
}

/** A button that asks first (a modal <dialog>), then runs the action and reports its failure. */
export function Action({ label, question, disabled, why, danger, children, run, done }: ActionProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (open && dialog.current && !dialog.current.open) dialog.current.showModal();
    if (!open && dialog.current?.open) dialog.current.close();
  }, [open]);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const result = await run();
      setOpen(false);
      done(result);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<span class="action">
    <button type="button" class=${danger ? 'danger' : ''} disabled=${disabled} title=${disabled ? why : question}
      data-action=${label.toLowerCase()} onClick=${() => { setError(null); setOpen(true); }}>${label}</button>
    <dialog ref=${dialog} onClose=${() => setOpen(false)} aria-label=${label}>
      <p>${question}</p>
      ${children}
      <${Failure} error=${error} />
      <div class="dialog-buttons">
        <button type="button" class="dismiss" onClick=${() => setOpen(false)}>Back</button>
        <button type="button" class=${`confirm ${danger ? 'danger' : ''}`} disabled=${busy} onClick=${confirm}>${busy ? '…' : label}</button>
      </div>
    </dialog>
  </span>`;
}
