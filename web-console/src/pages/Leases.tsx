import { useState } from 'preact/hooks';
import { del, isAdmin, whoami } from '../api';
import { formatLimit } from '../model';
import { useResource } from '../resource';
import type { Lease } from '../types';
import { Badge, ConfirmDialog, Load, Section, timeAgo } from '../ui';

const since = (iso: string | null) => (iso ? `${new Date(iso).toLocaleString()} (${timeAgo(Date.parse(iso))})` : '—');

function Interrupts({ l }: { l: Lease }) {
  return l.unsafeInterrupts ? (
    <Badge kind="bad">⚠ unsafe interrupts</Badge>
  ) : (
    <Badge kind="ok">remapped</Badge>
  );
}

function StateBadge({ s }: { s: Lease['state'] }) {
  return <Badge kind={s === 'ACTIVE' ? 'ok' : s === 'GRANTED' || s === 'ENDING' ? 'warn' : s === 'STUCK' ? 'bad' : 'muted'}>{s.toLowerCase()}</Badge>;
}

function Devices({ l }: { l: Lease }) {
  return (
    <>
      {l.devices.map((d) => (
        <div>
          <a class="mono" href={`#/device/${d.address}`}>{d.address}</a> <span class="small muted">group {d.group} · {d.vendorDevice}</span>
        </div>
      ))}
      {(l.groupMembers ?? []).map((d) => (
        <div class="small muted">
          + <a class="mono" href={`#/device/${d.address}`}>{d.address}</a> (group member)
        </div>
      ))}
    </>
  );
}

function LeaseTable({ list, onRevoke }: { list: Lease[]; onRevoke?: (l: Lease) => void }) {
  return (
    <table class="leases">
      <thead>
        <tr>
          <th>Lease</th><th>Holder</th><th>{onRevoke ? 'Since' : 'Ended'}</th><th>Devices</th><th>Backend</th><th>Rule</th>
          <th>Memlock limit</th><th>Interrupts</th><th>State</th>{onRevoke && <th></th>}
        </tr>
      </thead>
      <tbody>
        {list.map((l) => (
          <tr data-lease={l.id} data-state={l.state}>
            <td class="mono" title={l.id}>{l.id.slice(0, 8)}</td>
            <td>uid {l.holder.uid} · gid {l.holder.gid}<div class="small muted">pid {l.holder.pid}</div></td>
            <td class="small">
              {onRevoke ? since(l.created) : since(l.ended)}
              {!onRevoke && l.endReason && <div class="muted">{l.endReason}</div>}
            </td>
            <td><Devices l={l} /></td>
            <td>{l.backend}</td>
            <td>{l.rule}</td>
            <td>{formatLimit(l.memlockLimitBytes)}</td>
            <td class="irq"><Interrupts l={l} /></td>
            <td>
              <StateBadge s={l.state} />
              {(l.state === 'ENDING' || l.state === 'STUCK') && l.endReason && <div class="small muted">{l.endReason}</div>}
              {(l.stuckHolders ?? []).map((h) => <div class="small">{h}</div>)}
            </td>
            {onRevoke && (
              <td class="actions">
                {(isAdmin() || l.holder.uid === whoami()?.uid) && (
                  <button class="danger" onClick={() => onRevoke(l)} aria-label={`Revoke lease ${l.id}`}>Revoke…</button>
                )}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function Leases() {
  const leases = useResource<Lease[]>('/api/v1/leases?includeEnded=true', ['lease']);
  const [revoke, setRevoke] = useState<Lease | null>(null);
  return (
    <>
      <h1>Leases</h1>
      <Load res={leases} what="Leases">
        {(all) => {
          const active = all.filter((l) => l.state !== 'ENDED');
          const ended = all.filter((l) => l.state === 'ENDED').sort((a, b) => (b.ended ?? '').localeCompare(a.ended ?? ''));
          return (
            <>
              <Section title={`Active leases (${active.length})`}>
                {active.length === 0 ? <p class="muted">No device is leased right now.</p> : <LeaseTable list={active} onRevoke={setRevoke} />}
              </Section>
              <Section title={`Recently ended (${ended.length})`}>
                {ended.length === 0 ? <p class="muted">None.</p> : <LeaseTable list={ended} />}
              </Section>
            </>
          );
        }}
      </Load>
      {revoke && (
        <ConfirmDialog<Lease, Lease>
          title={`Revoke lease ${revoke.id}`}
          confirmLabel="Revoke"
          danger
          // Revocation has no dry run: the preview is the lease and what the daemon does when it ends.
          preview={async () => revoke}
          renderPreview={(l) => (
            <>
              <p>
                uid {l.holder.uid} (pid {l.holder.pid}) loses access to {l.devices.length} device(s). The client is told at
                once and gets the policy's grace to let go; then every process still holding the lease's files is killed,
                the devices are reset and their groups released as rule '{l.rule}' says; the end is recorded as "revoked by
                admin".
              </p>
              <Devices l={l} />
              <p class="small muted">Held since {since(l.created)} · <StateBadge s={l.state} /> · <Interrupts l={l} /></p>
            </>
          )}
          run={() => del<Lease>(`/api/v1/leases/${encodeURIComponent(revoke.id)}`)}
          renderResult={(r) => (
            <p>
              Lease {r.id.slice(0, 8)} is <StateBadge s={r.state} />{r.endReason ? ` (${r.endReason})` : ''}.
            </p>
          )}
          onClose={(changed) => {
            setRevoke(null);
            if (changed) leases.reload();
          }}
        />
      )}
    </>
  );
}
