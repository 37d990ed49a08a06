import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';
import type { Resource } from './resource';

export function ErrorBox({ error }: { error: unknown }) {
  const text = error instanceof ApiError ? error.describe() : String((error as Error)?.message ?? error);
  return (
    <div class="error" role="alert">
      <strong>Error:</strong> {text}
    </div>
  );
}

export function Unavailable({ what, error }: { what: string; error: ApiError }) {
  return (
    <div class="unavailable" role="status">
      {what}: not available on this daemon yet ({error.status}, {error.method} {error.path}).
    </div>
  );
}

/** Renders a resource's loading/error/unavailable states, and its data through `children`. */
export function Load<T>({ res, what, children }: { res: Resource<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (res.error?.missingEndpoint) return <Unavailable what={what} error={res.error} />;
  return (
    <>
      {res.error && <ErrorBox error={res.error} />}
      {res.data !== undefined ? children(res.data) : res.loading ? <p class="muted">Loading {what.toLowerCase()}…</p> : null}
    </>
  );
}

export function Badge({ kind, children }: { kind: 'ok' | 'bad' | 'warn' | 'info' | 'muted'; children: ComponentChildren }) {
  return <span class={`badge ${kind}`}>{children}</span>;
}

export function Section({ title, children, actions }: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  return (
    <section>
      <div class="section-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** Any JSON value, readably: the newer endpoints' extra fields show without special-casing. */
export function Value({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <span class="muted">—</span>;
  if (typeof v === 'boolean') return <span>{v ? 'yes' : 'no'}</span>;
  if (typeof v !== 'object') return <span>{String(v)}</span>;
  if (Array.isArray(v)) {
    if (v.length === 0) return <span class="muted">none</span>;
    if (v.every((x) => typeof x !== 'object' || x === null)) return <span>{v.join(', ')}</span>;
    return <ObjectTable rows={v} />;
  }
  return <KeyValues o={v as Record<string, unknown>} />;
}

export function KeyValues({ o }: { o: Record<string, unknown> }) {
  return (
    <dl class="kv">
      {Object.entries(o).map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>
            <Value v={v} />
          </dd>
        </>
      ))}
    </dl>
  );
}

export function ObjectTable({ rows, columns }: { rows: any[]; columns?: string[] }) {
  const cols = columns ?? Array.from(new Set(rows.slice(0, 50).flatMap((r) => (r && typeof r === 'object' ? Object.keys(r) : []))));
  return (
    <table>
      <thead>
        <tr>{cols.map((c) => <th>{c}</th>)}</tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr>{cols.map((c) => <td><Value v={r?.[c]} /></td>)}</tr>
        ))}
      </tbody>
    </table>
  );
}

type Phase<P, R> =
  | { s: 'preview' }
  | { s: 'ready'; preview: P }
  | { s: 'previewFailed'; error: unknown }
  | { s: 'running'; preview?: P }
  | { s: 'done'; result: R }
  | { s: 'failed'; error: unknown; preview?: P };

/**
 * A modal that first shows what an action would do (the dry run), then runs it on confirmation
 * and shows the result or the error. Nothing is written before the admin presses confirm.
 */
export function ConfirmDialog<P, R>(props: {
  title: string;
  confirmLabel: string;
  danger?: boolean;
  preview: () => Promise<P>;
  renderPreview: (p: P) => ComponentChildren;
  run: () => Promise<R>;
  renderResult: (r: R) => ComponentChildren;
  /** Whether confirming is allowed after the preview failed (e.g. the endpoint has no dry run). */
  allowWithoutPreview?: boolean;
  /** Why the previewed action must not run (e.g. the dry run lists refusals); hides the confirm button. */
  blockedBy?: (p: P) => string | null;
  onClose: (changed: boolean) => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [phase, setPhase] = useState<Phase<P, R>>({ s: 'preview' });
  useEffect(() => {
    ref.current?.showModal();
    props.preview().then(
      (preview) => setPhase({ s: 'ready', preview }),
      (error) => setPhase({ s: 'previewFailed', error }),
    );
  }, []);
  const confirm = () => {
    const preview = phase.s === 'ready' ? phase.preview : undefined;
    setPhase({ s: 'running', preview });
    props.run().then(
      (result) => setPhase({ s: 'done', result }),
      (error) => setPhase({ s: 'failed', error, preview }),
    );
  };
  const close = () => {
    ref.current?.close();
    props.onClose(phase.s === 'done');
  };
  const blocked = phase.s === 'ready' && props.blockedBy ? props.blockedBy(phase.preview) : null;
  const canConfirm = (phase.s === 'ready' && !blocked) || (phase.s === 'previewFailed' && props.allowWithoutPreview);
  return (
    <dialog ref={ref} class="confirm" aria-label={props.title} onCancel={(e) => { e.preventDefault(); close(); }}>
      <h3>{props.title}</h3>
      {phase.s === 'preview' && <p class="muted">Asking the daemon what this would do (dry run)…</p>}
      {(phase.s === 'ready' || ((phase.s === 'running' || phase.s === 'failed') && phase.preview !== undefined)) && (
        <div class="preview">
          <h4>What will happen</h4>
          {props.renderPreview((phase as any).preview as P)}
        </div>
      )}
      {blocked && <p class="warnline" role="note">{blocked}</p>}
      {phase.s === 'previewFailed' && (
        <>
          <p>The dry run failed, so nothing is known about what this would do:</p>
          <ErrorBox error={phase.error} />
        </>
      )}
      {phase.s === 'running' && <p class="muted">Working…</p>}
      {phase.s === 'failed' && (
        <>
          <h4>Failed</h4>
          <ErrorBox error={phase.error} />
        </>
      )}
      {phase.s === 'done' && (
        <div class="result" role="status">
          <h4>Done</h4>
          {props.renderResult(phase.result)}
        </div>
      )}
      <div class="dialog-buttons">
        {canConfirm && (
          <button class={props.danger ? 'danger' : 'primary'} onClick={confirm}>
            {props.confirmLabel}
          </button>
        )}
        <button onClick={close}>{phase.s === 'done' || phase.s === 'failed' ? 'Close' : 'Cancel'}</button>
      </div>
    </dialog>
  );
}

export function timeAgo(ms: number | undefined): string {
  if (!ms) return '';
  const s = Math.round((Date.now() - ms) / 1000);
  return s < 2 ? 'just now' : `${s}s ago`;
}
