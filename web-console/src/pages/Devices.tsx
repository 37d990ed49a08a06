import { isAdmin } from '../api';
import { useMemo, useState } from 'preact/hooks';
import { className, deviceTree, protectedReasons } from '../model';
import { useResource } from '../resource';
import { Badge, Load, Section } from '../ui';
import type { Device, Group } from '../types';
import { BindDialog, BindTarget, ReleaseDialog } from './Bindings';

const DEVICE_KINDS = ['device', 'binding'] as const;

type Dialog = { bind: BindTarget } | { release: number } | null;

/** A device the broker bound (GET /api/v1/bindings): what it restores on release. */
interface Owned {
  device: string;
  group: number;
  originalDriver: string | null;
  originalOverride: string | null;
  since: string;
}

const isBridge = (d: Device) => d.pciClass.startsWith('0604') || d.pciClass.startsWith('0600');

function DriverCell({ d }: { d: Device }) {
  return (
    <td class="driver" data-driver={d.driver ?? ''}>
      {d.driver ? (d.driver === 'vfio-pci' ? <Badge kind="info">vfio-pci</Badge> : d.driver) : <span class="muted">none</span>}
      {d.driverOverride && <span class="small muted"> (override {d.driverOverride})</span>}
    </td>
  );
}

function DeviceRow({ d, group, owned, vf, dim, onAction }: { d: Device; group?: Group; owned?: Owned; vf?: boolean; dim?: boolean; onAction: (x: Dialog) => void }) {
  const reasons = protectedReasons(d);
  const bridge = isBridge(d);
  const bound = d.driver === 'vfio-pci';
  return (
    <tr class={`${vf ? 'vf' : ''} ${dim ? 'dim' : ''}`} data-address={d.address}>
      <td class="mono">
        {vf && <span class="tree">└ </span>}
        <a href={`#/device/${d.address}`}>{d.address}</a>
      </td>
      <td>
        {d.deviceName ?? `${d.vendorId}:${d.deviceId}`}
        <div class="small muted">
          {d.vendorName ?? d.vendorId} · {d.vendorId}:{d.deviceId}
        </div>
      </td>
      <td>{className(d.pciClass)}</td>
      <DriverCell d={d} />
      <td>{d.numaNode < 0 ? <span class="muted">—</span> : d.numaNode}</td>
      <td>
        {d.iommuGroup ?? <span class="muted">none</span>}
        {group && (group.viable ? <Badge kind="ok">viable</Badge> : <Badge kind="muted">not viable</Badge>)}
      </td>
      <td class="small">
        {d.sriov && (
          <div>
            SR-IOV PF: {d.sriov.numVfs}/{d.sriov.totalVfs} VFs
          </div>
        )}
        {d.bootVga && <Badge kind="warn">boot VGA</Badge>}
        {owned && (
          <div class="owned">
            bound by the broker since {owned.since}; restores {owned.originalDriver ?? 'no driver'}
          </div>
        )}
        {reasons.map((r) => (
          <div class="protected">
            <Badge kind="bad">protected</Badge> {r}
          </div>
        ))}
      </td>
      <td class="actions">
        {isAdmin() && !bridge && d.iommuGroup != null && !bound && (
          <button onClick={() => onAction({ bind: { address: d.address } })} aria-label={`Bind ${d.address}`}>
            Bind…
          </button>
        )}
        {isAdmin() && bound && d.iommuGroup != null && (
          <button onClick={() => onAction({ release: d.iommuGroup! })} aria-label={`Release group of ${d.address}`}>
            Release…
          </button>
        )}
      </td>
    </tr>
  );
}

export function Devices() {
  const devices = useResource<Device[]>('/api/v1/devices', DEVICE_KINDS);
  const groups = useResource<Group[]>('/api/v1/groups', DEVICE_KINDS);
  const owned = useResource<Owned[]>('/api/v1/bindings', DEVICE_KINDS);
  const ownedBy = useMemo(() => new Map((Array.isArray(owned.data) ? owned.data : []).map((o) => [o.device, o])), [owned.data]);
  const [query, setQuery] = useState(() => new URLSearchParams(location.hash.split('?')[1] ?? '').get('q') ?? '');
  const [dialog, setDialog] = useState<Dialog>(null);
  const groupById = useMemo(() => new Map((groups.data ?? []).map((g) => [g.id, g])), [groups.data]);
  // Root ports and host bridges are rarely what an admin looks for: hidden unless asked.
  const [bridges, setBridges] = useState(false);
  const visible = useMemo(() => (devices.data ?? []).filter((d) => bridges || !isBridge(d)), [devices.data, bridges]);
  const tree = useMemo(() => deviceTree(visible, query), [visible, query]);
  const byAddr = useMemo(() => new Map((devices.data ?? []).map((d) => [d.address, d])), [devices.data]);
  const members = (g: Group) => g.devices.map((a) => byAddr.get(a)).filter((d): d is Device => d !== undefined);
  const shown = tree.reduce((n, t) => n + (t.matched ? 1 : 0) + t.vfs.length, 0);
  const done = (changed: boolean) => {
    setDialog(null);
    if (changed) {
      devices.reload();
      groups.reload();
      owned.reload();
    }
  };
  const quick = ['driver:vfio-pci', 'driver:none', 'class:ethernet', 'class:nvme', 'numa:0', 'numa:1'];
  return (
    <>
      <h1>Devices &amp; IOMMU groups</h1>
      <div class="filterbar">
        <input
          type="search"
          placeholder="Filter: address, name, vendor:device id, driver… or driver:vfio-pci numa:1 group:11 class:nvme"
          aria-label="Filter devices"
          value={query}
          onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
        />
        {quick.map((q) => (
          <button class="chip" onClick={() => setQuery(q)}>
            {q}
          </button>
        ))}
        <label class="toggle">
          <input type="checkbox" checked={bridges} onChange={(e) => setBridges((e.target as HTMLInputElement).checked)} /> show bridges
        </label>
        {query && (
          <button class="chip" onClick={() => setQuery('')}>
            clear
          </button>
        )}
      </div>
      <Load res={devices} what="Devices">
        {(all) => (
          <Section title={`Devices (${shown} of ${all.length})`}>
            <table class="devices">
              <thead>
                <tr>
                  <th>Address</th><th>Device</th><th>Class</th><th>Driver</th><th>NUMA</th><th>Group</th><th>Notes</th><th></th>
                </tr>
              </thead>
              <tbody>
                {tree.map((n) => (
                  <>
                    <DeviceRow d={n.device} owned={ownedBy.get(n.device.address)} group={groupById.get(n.device.iommuGroup ?? -1)} dim={!n.matched} onAction={setDialog} />
                    {n.vfs.map((vf) => (
                      <DeviceRow d={vf} vf owned={ownedBy.get(vf.address)} group={groupById.get(vf.iommuGroup ?? -1)} onAction={setDialog} />
                    ))}
                  </>
                ))}
              </tbody>
            </table>
            {tree.length === 0 && <p class="muted">No device matches “{query}”.</p>}
          </Section>
        )}
      </Load>
      <Load res={groups} what="IOMMU groups">
        {(gs) => (
          <Section title={`IOMMU groups (${gs.length})`}>
            <table class="groups">
              <thead>
                <tr><th>Group</th><th>Devices</th><th>Viable</th><th>Blockers</th><th></th></tr>
              </thead>
              <tbody>
                {gs
                  .filter((g) => bridges || !members(g).every(isBridge))
                  .map((g) => {
                    const ms = members(g);
                    const canBind = isAdmin() && ms.some((d) => !isBridge(d) && d.driver !== 'vfio-pci');
                    const canRelease = isAdmin() && ms.some((d) => d.driver === 'vfio-pci');
                    return (
                      <tr data-group={g.id}>
                        <td>{g.id}</td>
                        <td class="mono">{g.devices.join(', ')}</td>
                        <td>{g.viable ? <Badge kind="ok">viable</Badge> : <Badge kind="muted">no</Badge>}</td>
                        <td class="small">{g.blockers.length ? g.blockers.join('; ') : <span class="muted">none</span>}</td>
                        <td class="actions">
                          {canBind && <button onClick={() => setDialog({ bind: { group: g.id } })} aria-label={`Bind group ${g.id}`}>Bind…</button>}
                          {canRelease && <button onClick={() => setDialog({ release: g.id })} aria-label={`Release group ${g.id}`}>Release…</button>}
                        </td>
                      </tr>
                    );
                  })}
              </tbody>
            </table>
          </Section>
        )}
      </Load>
      {dialog && 'bind' in dialog && <BindDialog target={dialog.bind} onClose={done} />}
      {dialog && 'release' in dialog && <ReleaseDialog group={dialog.release} onClose={done} />}
    </>
  );
}

export function DeviceDetail({ address }: { address: string }) {
  const dev = useResource<Device>(`/api/v1/devices/${encodeURIComponent(address)}`, DEVICE_KINDS);
  return (
    <>
      <h1>
        Device <span class="mono">{address}</span>
      </h1>
      <p>
        <a href="#/devices">← all devices</a>
      </p>
      <Load res={dev} what="Device">
        {(d) => (
          <table class="detail">
            <tbody>
              {Object.entries(d).map(([k, v]) => (
                <tr>
                  <th>{k}</th>
                  <td class="mono">{v == null ? '—' : typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Load>
    </>
  );
}
