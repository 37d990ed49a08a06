import { useResource } from '../resource';
import { Badge, Load, Section } from '../ui';
import type { Device, Group, IommuView } from '../types';

const KERNEL_LABELS: Record<string, string> = {
  vfio: 'vfio module',
  vfioPci: 'vfio-pci driver',
  vfioIommuType1: 'vfio_iommu_type1 (legacy container)',
  iommufd: 'iommufd',
  vfioContainerNode: '/dev/vfio/vfio',
  iommufdNode: '/dev/iommu',
  type1AllowUnsafeInterrupts: 'type1 allow_unsafe_interrupts',
  iommufdAllowUnsafeInterrupts: 'iommufd allow_unsafe_interrupts',
  interruptRemappingChipsSeen: 'IR chips in /proc/interrupts',
};

// "Unsafe interrupts allowed" is a warning when on; every other flag is good when present.
const INVERTED = new Set(['type1AllowUnsafeInterrupts', 'iommufdAllowUnsafeInterrupts']);

function irBadge(v: string) {
  if (v === 'supported') return <Badge kind="ok">IR supported</Badge>;
  if (v === 'unsupported') return <Badge kind="bad">no interrupt remapping</Badge>;
  return <Badge kind="warn">IR unknown</Badge>;
}

export function Overview() {
  const iommu = useResource<IommuView>('/api/v1/iommu', ['device']);
  const devices = useResource<Device[]>('/api/v1/devices', ['device', 'binding']);
  const groups = useResource<Group[]>('/api/v1/groups', ['device', 'binding']);
  const health = useResource<{ status: string }>('/actuator/health', ['device', 'policy']);
  return (
    <>
      <h1>Host overview</h1>
      <div class="cards">
        <div class="card">
          <div class="num">{devices.data?.length ?? '…'}</div>PCI functions
        </div>
        <div class="card">
          <div class="num">{devices.data?.filter((d) => d.virtualFunction).length ?? '…'}</div>SR-IOV VFs
        </div>
        <div class="card">
          <div class="num">{groups.data?.length ?? '…'}</div>IOMMU groups
        </div>
        <div class="card">
          <div class="num">{groups.data?.filter((g) => g.viable).length ?? '…'}</div>viable groups
        </div>
        <div class="card">
          <div class="num">{health.data?.status ?? (health.error ? 'DOWN' : '…')}</div>daemon health
        </div>
      </div>
      <Load res={iommu} what="IOMMU">
        {(v) => (
          <>
            <Section title="IOMMU units">
              {v.units.length === 0 ? (
                <p class="warnline">No IOMMU unit found: VFIO cannot isolate devices on this host.</p>
              ) : (
                <table>
                  <thead>
                    <tr><th>Unit</th><th>Type</th><th>Interrupt remapping</th><th>Evidence</th><th>Registers</th></tr>
                  </thead>
                  <tbody>
                    {v.units.map((u) => (
                      <tr data-unit={u.name}>
                        <td class="mono">{u.name}</td>
                        <td>{u.type}</td>
                        <td>{irBadge(u.interruptRemapping)}</td>
                        <td>{u.evidence}</td>
                        <td class="mono small">{Object.entries(u.registers).map(([k, r]) => `${k}=${r}`).join('  ')}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </Section>
            <Section title="Kernel VFIO / iommufd support">
              <ul class="checks">
                {Object.entries(v.kernel).map(([k, val]) => {
                  const good = val == null ? null : INVERTED.has(k) ? !val : val;
                  return (
                    <li data-flag={k}>
                      <span class={`dot ${good == null ? 'unknown' : good ? 'ok' : INVERTED.has(k) ? 'warn' : 'bad'}`} />
                      {KERNEL_LABELS[k] ?? k}: <strong>{val == null ? 'unknown' : val ? 'yes' : 'no'}</strong>
                    </li>
                  );
                })}
              </ul>
            </Section>
          </>
        )}
      </Load>
    </>
  );
}
