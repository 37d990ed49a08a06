// Pure helpers (no DOM), unit-tested with vitest.
import type { AccountingReport, Device } from './types';

const CLASS_NAMES: Record<string, string> = {
  '0100': 'SCSI', '0106': 'SATA', '0108': 'NVMe', '0200': 'Ethernet', '0207': 'InfiniBand', '0280': 'Network',
  '0300': 'VGA', '0302': '3D', '0380': 'Display', '0403': 'Audio', '0600': 'Host bridge', '0601': 'ISA bridge',
  '0604': 'PCI bridge', '0880': 'System', '0c03': 'USB', '0c05': 'SMBus', '0b40': 'Co-processor', '1200': 'Accelerator',
  '00ff': 'Unclassified',
};

export function className(pciClass: string): string {
  return CLASS_NAMES[pciClass.slice(0, 4).toLowerCase()] ?? `class ${pciClass}`;
}

export function protectedReasons(d: Device): string[] {
  return d.protectedReasons ?? d.protection?.reasons ?? [];
}

/**
 * Whitespace-separated terms, all of which must match. `key:value` terms match one field
 * (driver, numa, group, class, vendor); a bare term matches address, ids, names, driver or class.
 */
export function deviceMatches(d: Device, query: string): boolean {
  const terms = query.trim().toLowerCase().split(/\s+/).filter(Boolean);
  return terms.every((t) => termMatches(d, t));
}

function termMatches(d: Device, term: string): boolean {
  const colon = term.indexOf(':');
  const key = colon > 0 ? term.slice(0, colon) : '';
  const val = colon > 0 ? term.slice(colon + 1) : term;
  switch (key) {
    case 'driver':
      return val === 'none' ? d.driver == null : (d.driver ?? '').toLowerCase().includes(val);
    case 'numa':
      return String(d.numaNode) === val;
    case 'group':
      return String(d.iommuGroup ?? 'none') === val;
    case 'class':
      return d.pciClass.startsWith(val) || className(d.pciClass).toLowerCase().includes(val);
    case 'vendor':
      return d.vendorId === val || (d.vendorName ?? '').toLowerCase().includes(val);
  }
  // Anything else, including PCI addresses like 0000:06:00.0, is a plain substring term.
  const hay = [
    d.address, `${d.vendorId}:${d.deviceId}`, d.vendorName ?? '', d.deviceName ?? '', d.driver ?? '',
    className(d.pciClass), d.pciClass, d.iommuUnit ?? '',
  ].join('\u0001').toLowerCase();
  return hay.includes(term);
}

export interface TreeNode {
  device: Device;
  /** False when the row is shown only because one of its VFs matched. */
  matched: boolean;
  vfs: Device[];
}

/** PF→VF tree of the devices matching `query`; a PF stays visible (dimmed) when only its VFs match. */
export function deviceTree(devices: Device[], query: string): TreeNode[] {
  const byAddr = new Map(devices.map((d) => [d.address, d]));
  const vfsOf = new Map<string, Device[]>();
  for (const d of devices) {
    if (d.virtualFunction && d.physicalFunction && byAddr.has(d.physicalFunction)) {
      const list = vfsOf.get(d.physicalFunction) ?? [];
      list.push(d);
      vfsOf.set(d.physicalFunction, list);
    }
  }
  const out: TreeNode[] = [];
  for (const d of devices) {
    if (d.virtualFunction && d.physicalFunction && byAddr.has(d.physicalFunction)) continue;
    const matched = deviceMatches(d, query);
    const vfs = (vfsOf.get(d.address) ?? []).filter((vf) => deviceMatches(vf, query));
    if (matched || vfs.length > 0) out.push({ device: d, matched, vfs });
  }
  return out;
}

export function formatBytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

export interface Sample {
  t: number;
  values: Record<string, number>;
}

/** Appends a sample, keeping only the last `max`. Returns a new array (state stays immutable). */
export function appendSample(history: Sample[], sample: Sample, max: number): Sample[] {
  const next = history.concat(sample);
  return next.length > max ? next.slice(next.length - max) : next;
}

/** A limit in bytes where -1 means unlimited. */
export function formatLimit(n: number | null | undefined): string {
  return n != null && n < 0 ? 'unlimited' : formatBytes(n);
}

/** Series key of a lease: its id's first 8 characters. */
export const leaseKey = (leaseId: string) => `lease ${leaseId.slice(0, 8)}`;
export const principalKey = (uid: number) => `uid ${uid}`;

/** Memlock series from GET /api/v1/accounting: usedBytes per lease and per principal. */
export function memlockSeries(acc: AccountingReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of acc.leases ?? []) out[leaseKey(l.leaseId)] = l.usedBytes;
  for (const p of acc.principals ?? []) out[principalKey(p.uid)] = p.usedBytes;
  return out;
}
