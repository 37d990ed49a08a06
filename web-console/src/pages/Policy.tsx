import { useState } from 'preact/hooks';
import { ApiError, postJson } from '../api';
import { pick } from '../model';
import { useResource } from '../resource';
import { Badge, ConfirmDialog, ErrorBox, KeyValues, Load, Section, Unavailable, Value } from '../ui';

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
    const num = (s: string) => (/^\d+$/.test(s.trim()) ? Number(s) : s); // let the daemon reject bad numbers in its own words
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
  const allowed = pick(answer, 'allowed', 'allow', 'permitted');
  return (
    <Section title="Explain a decision">
      <form class="explain" onSubmit={submit}>
        {field('uid', 'uid')}
        {field('gid', 'gid')}
        {field('address', 'PCI address')}
        <button class="primary" type="submit" disabled={busy}>Explain</button>
      </form>
      {error && (error.missingEndpoint ? <Unavailable what="Policy explain" error={error} /> : <ErrorBox error={error} />)}
      {answer !== undefined && (
        <div class="answer" role="status">
          {allowed !== undefined && (allowed ? <Badge kind="ok">allowed</Badge> : <Badge kind="bad">denied</Badge>)}
          <Value v={answer} />
        </div>
      )}
    </Section>
  );
}

export function Policy() {
  const policy = useResource<any>('/api/v1/policy');
  const [reload, setReload] = useState(false);
  const text = pick(policy.data, 'source', 'content', 'text', 'yaml', 'raw');
  const errors = pick(policy.data, 'errors', 'validationErrors', 'problems');
  const file = pick(policy.data, 'file', 'path', 'location');
  const rest = policy.data && typeof policy.data === 'object'
    ? Object.fromEntries(Object.entries(policy.data).filter(([k]) => ![ 'source', 'content', 'text', 'yaml', 'raw', 'errors', 'validationErrors', 'problems', 'file', 'path', 'location'].includes(k)))
    : {};
  return (
    <>
      <h1>Policy</h1>
      <Load res={policy} what="Policy">
        {() => (
          <Section
            title={file ? `Policy file ${file}` : 'Current policy'}
            actions={<button onClick={() => setReload(true)}>Reload policy…</button>}
          >
            {Array.isArray(errors) && errors.length > 0 ? (
              <div class="error" role="alert">
                <strong>Validation errors:</strong>
                <ul>{errors.map((e: any) => <li>{typeof e === 'object' ? <Value v={e} /> : String(e)}</li>)}</ul>
              </div>
            ) : (
              <p><Badge kind="ok">valid</Badge></p>
            )}
            {typeof text === 'string' && <pre class="source">{text}</pre>}
            {Object.keys(rest).length > 0 && <KeyValues o={rest} />}
          </Section>
        )}
      </Load>
      <ExplainForm />
      {reload && (
        <ConfirmDialog
          title="Reload the policy file"
          confirmLabel="Reload"
          // The reload is validated before it takes effect; the current file shows what will be read.
          preview={async () => policy.data}
          renderPreview={(p) => (
            <>
              <p>The daemon re-reads {file ?? 'its policy file'} and applies it to new requests; an invalid file is refused and the current policy stays.</p>
              {p && typeof pick(p, 'source', 'content', 'text') === 'string' ? <pre class="source small">{pick(p, 'source', 'content', 'text')}</pre> : null}
            </>
          )}
          allowWithoutPreview
          run={() => postJson('/api/v1/policy/reload', {})}
          renderResult={(r) => (r == null ? <p>Policy reloaded.</p> : <Value v={r} />)}
          onClose={(changed) => {
            setReload(false);
            if (changed) policy.reload();
          }}
        />
      )}
    </>
  );
}
