import { useState } from 'preact/hooks';
import { ApiError, isAdmin, postJson } from '../api';
import { formatBytes } from '../model';
import { useResource } from '../resource';
import { Badge, ConfirmDialog, ErrorBox, KeyValues, Load, ObjectTable, Section, Unavailable, Value } from '../ui';

/** GET /api/v1/policy: the file, the outcome of its last load, and the YAML in force. */
interface PolicyView {
  source: string;
  status: LoadStatus;
  text: string;
}

interface LoadStatus {
  state: 'LOADED' | 'MISSING' | 'REJECTED';
  source: string;
  message: string;
  errors: { line: number; column: number; key: string; message: string }[];
  activeSha256: string | null;
  activeSince: string | null;
  activeRules: number;
  checkedAt: string;
}

function StateBadge({ s }: { s: LoadStatus['state'] }) {
  if (s === 'LOADED') return <Badge kind="ok">loaded</Badge>;
  if (s === 'MISSING') return <Badge kind="warn">no file: default deny</Badge>;
  return <Badge kind="bad">rejected: previous policy stays</Badge>;
}

function StatusView({ st }: { st: LoadStatus }) {
  return (
    <>
      <p>
        <StateBadge s={st.state} /> {st.message}
      </p>
      {st.errors.length > 0 && (
        <div class="error" role="alert">
          <strong>Validation errors in {st.source}:</strong>
          <ul>
            {st.errors.map((e) => (
              <li>
                line {e.line}
                {e.column > 0 ? `:${e.column}` : ''}
                {e.key ? <> at <code>{e.key}</code></> : null}: {e.message}
              </li>
            ))}
          </ul>
        </div>
      )}
      <p class="small muted">
        {st.activeRules} rule{st.activeRules === 1 ? '' : 's'} in force
        {st.activeSince ? ` since ${st.activeSince}` : ''}
        {st.activeSha256 ? ` · sha256 ${st.activeSha256.slice(0, 12)}…` : ''} · checked {st.checkedAt}
      </p>
    </>
  );
}

function Explanation({ a }: { a: any }) {
  const d = a?.decision;
  if (!d) return <Value v={a} />;
  return (
    <div class="answer" role="status">
      <p>
        {d.allowed ? <Badge kind="ok">allowed</Badge> : <Badge kind="bad">refused</Badge>} {d.reason}{' '}
        {d.rule && <span class="muted">(rule {d.rule})</span>}
      </p>
      {d.unsafeInterrupts && <p class="warnline">Allowed with unsafe interrupts (no interrupt remapping for this device).</p>}
      {d.limits && (
        <p class="small">
          limits: {d.limits.maxDevices < 0 ? 'unlimited' : d.limits.maxDevices} devices · memlock {formatBytes(d.limits.memlockBytesPerLease)} per lease,{' '}
          {formatBytes(d.limits.memlockBytesPerPrincipal)} per principal · backend {d.limits.backend}
          {d.limits.keepBound ? ' · keeps devices bound' : ''}
        </p>
      )}
      {a.interrupts && (
        <p class="small">
          interrupts: <strong>{a.interrupts.verdict}</strong> — {a.interrupts.summary}
        </p>
      )}
      {a.binding && (
        <p class="small">
          binding: {a.binding.permitted ? 'permitted' : 'not permitted'} — {a.binding.reason}
        </p>
      )}
      {Array.isArray(a.chain) && a.chain.length > 0 && (
        <>
          <h5>Rules checked, in order</h5>
          <ObjectTable rows={a.chain} columns={['rule', 'line', 'action', 'deviceMatched', 'principalMatched', 'outcome', 'why']} />
        </>
      )}
    </div>
  );
}

function ExplainForm() {
  const [form, setForm] = useState({ uid: '1000', gid: '1000', address: '0000:06:00.0' });
  const [answer, setAnswer] = useState<any>(undefined);
  const [error, setError] = useState<ApiError | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setAnswer(undefined);
    // Non-numbers go as text so the daemon rejects them in its own words.
    const num = (s: string) => (/^\d+$/.test(s.trim()) ? Number(s) : s);
    postJson<any>('/api/v1/policy/explain', { uid: num(form.uid), gid: num(form.gid), address: form.address.trim() })
      .then(setAnswer, setError)
      .finally(() => setBusy(false));
  };
  const field = (k: keyof typeof form, label: string) => (
    <label>
      {label}
      <input name={k} value={form[k]} onInput={(e) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value })} />
    </label>
  );
  return (
    <Section title="Explain a decision">
      <form class="explain" onSubmit={submit}>
        {field('uid', 'uid')}
        {field('gid', 'gid')}
        {field('address', 'PCI address')}
        <button class="primary" type="submit" disabled={busy}>Explain</button>
      </form>
      {error && (error.missingEndpoint ? <Unavailable what="Policy explain" error={error} /> : <ErrorBox error={error} />)}
      {answer !== undefined && <Explanation a={answer} />}
    </Section>
  );
}

export function Policy() {
  if (!isAdmin()) {
    return (
      <>
        <h1>Policy</h1>
        <p class="muted">The policy text and reloads are for admins; you can ask what it decides for you.</p>
        <ExplainForm />
      </>
    );
  }
  return <AdminPolicy />;
}

function AdminPolicy() {
  const policy = useResource<PolicyView>('/api/v1/policy', ['policy']);
  const [reload, setReload] = useState(false);
  return (
    <>
      <h1>Policy</h1>
      <Load res={policy} what="Policy">
        {(p) => (
          <Section title={`Policy file ${p.source}`} actions={<button onClick={() => setReload(true)}>Reload policy…</button>}>
            {p.status ? <StatusView st={p.status} /> : null}
            {p.text ? <pre class="source">{p.text}</pre> : <p class="muted">No policy text in force: every request is denied.</p>}
          </Section>
        )}
      </Load>
      <ExplainForm />
      {reload && (
        <ConfirmDialog<PolicyView | undefined, LoadStatus>
          title="Reload the policy file"
          confirmLabel="Reload"
          // A reload is validated before it takes effect: the preview says so and shows what is in force now.
          preview={async () => policy.data}
          renderPreview={(p) => (
            <>
              <p>
                The daemon re-reads <code>{p?.source ?? 'its policy file'}</code> and applies it to new requests. A file that
                does not validate is refused and the policy in force stays.
              </p>
              {p?.status && <StatusView st={p.status} />}
            </>
          )}
          run={() => postJson<LoadStatus>('/api/v1/policy/reload', {})}
          renderResult={(st) => (st && st.state ? <StatusView st={st} /> : <KeyValues o={(st ?? {}) as any} />)}
          onClose={(changed) => {
            setReload(false);
            policy.reload();
            void changed;
          }}
        />
      )}
    </>
  );
}
