import { useState } from 'preact/hooks';
import { del } from '../api';
import { pick } from '../model';
import { useResource } from '../resource';
import { Badge, ConfirmDialog, KeyValues, Load, Section, Value } from '../ui';

function asList(data: any): any[] {
  return Array.isArray(data) ? data : (pick(data, 'leases', 'items', 'content') ?? []);
}

function principal(l: any): string {
  const p = pick(l, 'principal', 'client', 'owner') ?? l;
  const parts = [['uid', pick(p, 'uid')], ['gid', pick(p, 'gid')], ['pid', pick(p, 'pid')]].filter(([, v]) => v != null);
  return parts.length ? parts.map(([k, v]) => `${k} ${v}`).join(' · ') : typeof p === 'string' ? p : '—';
}

export function Leases() {
  const leases = useResource<any>('/api/v1/leases');
  const [revoke, setRevoke] = useState<any>(null);
  return (
    <>
      <h1>Leases</h1>
      <Load res={leases} what="Leases">
        {(data) => {
          const list = asList(data);
          return (
            <Section title={`Active leases (${list.length})`}>
              {list.length === 0 ? (
                <p class="muted">No device is leased right now.</p>
              ) : (
                <table>
                  <thead>
                    <tr><th>Lease</th><th>Who</th><th>Since</th><th>Devices</th><th>Backend</th><th>Interrupts</th><th></th></tr>
                  </thead>
                  <tbody>
                    {list.map((l) => {
                      const id = String(pick(l, 'id', 'leaseId'));
                      const unsafe = pick(l, 'unsafeInterrupts', 'allowUnsafeInterrupts', 'unsafe');
                      return (
                        <tr data-lease={id}>
                          <td class="mono">{id}</td>
                          <td>{principal(l)}</td>
                          <td>{String(pick(l, 'since', 'acquiredAt', 'createdAt', 'start') ?? '—')}</td>
                          <td class="mono"><Value v={pick(l, 'devices', 'addresses', 'address', 'group')} /></td>
                          <td>{String(pick(l, 'backend', 'iommuBackend') ?? '—')}</td>
                          <td>{unsafe ? <Badge kind="bad">unsafe interrupts</Badge> : <Badge kind="ok">remapped</Badge>}</td>
                          <td class="actions">
                            <button class="danger" onClick={() => setRevoke(l)} aria-label={`Revoke lease ${id}`}>Revoke…</button>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )}
            </Section>
          );
        }}
      </Load>
      {revoke && (
        <ConfirmDialog
          title={`Revoke lease ${pick(revoke, 'id', 'leaseId')}`}
          confirmLabel="Revoke"
          danger
          // Revocation has no dry run: the preview is the lease itself and what the daemon will do with it.
          preview={async () => revoke}
          renderPreview={(l) => (
            <>
              <p>The daemon closes the fds it holds for this lease and restores its devices per policy. The client loses access.</p>
              <KeyValues o={l} />
            </>
          )}
          run={() => del(`/api/v1/leases/${encodeURIComponent(String(pick(revoke, 'id', 'leaseId')))}`)}
          renderResult={(r) => (r == null ? <p>Lease revoked.</p> : <Value v={r} />)}
          onClose={(changed) => {
            setRevoke(null);
            if (changed) leases.reload();
          }}
        />
      )}
    </>
  );
}
