import { describe, expect, it } from 'vitest';
import { appendSample, deviceMatches, deviceTree, formatBytes, formatLimit, memlockSeries } from './model';
import type { Device } from './types';

const dev = (address: string, over: Partial<Device> = {}): Device => ({
  address, vendorId: '8086', deviceId: '1572', pciClass: '020000', vendorName: 'Intel Corporation',
  deviceName: 'Ethernet Controller X710', driver: 'i40e', driverOverride: null, numaNode: 0, resetMethods: [],
  bootVga: false, iommuGroup: 13, iommuUnit: 'dmar0', sriov: null, physicalFunction: null, virtualFunction: false,
  ...over,
});

const pf = dev('0000:07:00.0');
const vf1 = dev('0000:07:02.0', { driver: 'iavf', virtualFunction: true, physicalFunction: '0000:07:00.0', iommuGroup: 14, deviceName: 'X710 VF' });
const vf2 = dev('0000:07:02.1', { driver: 'vfio-pci', virtualFunction: true, physicalFunction: '0000:07:00.0', iommuGroup: 15, deviceName: 'X710 VF' });
const nvme = dev('0000:01:00.0', { pciClass: '010802', driver: 'nvme', deviceName: 'NVMe SSD', numaNode: 1, iommuGroup: 1 });

describe('deviceMatches', () => {
  it('matches bare terms against address, names and driver', () => {
    expect(deviceMatches(nvme, 'nvme')).toBe(true);
    expect(deviceMatches(nvme, '01:00.0')).toBe(true);
    expect(deviceMatches(nvme, 'i40e')).toBe(false);
    expect(deviceMatches(pf, '8086:1572')).toBe(true);
  });
  it('matches key:value terms on one field, all terms required', () => {
    expect(deviceMatches(nvme, 'numa:1')).toBe(true);
    expect(deviceMatches(nvme, 'numa:0')).toBe(false);
    expect(deviceMatches(vf2, 'driver:vfio')).toBe(true);
    expect(deviceMatches(vf2, 'driver:vfio group:14')).toBe(false);
    expect(deviceMatches(dev('x', { driver: null }), 'driver:none')).toBe(true);
    expect(deviceMatches(nvme, 'class:nvme')).toBe(true);
  });
});

describe('deviceTree', () => {
  it('nests VFs under their PF', () => {
    const t = deviceTree([nvme, pf, vf1, vf2], '');
    expect(t.map((n) => n.device.address)).toEqual(['0000:01:00.0', '0000:07:00.0']);
    expect(t[1].vfs.map((v) => v.address)).toEqual(['0000:07:02.0', '0000:07:02.1']);
  });
  it('keeps a PF as context when only a VF matches', () => {
    const t = deviceTree([nvme, pf, vf1, vf2], 'vfio-pci');
    expect(t).toHaveLength(1);
    expect(t[0].matched).toBe(false);
    expect(t[0].vfs.map((v) => v.address)).toEqual(['0000:07:02.1']);
  });
});

describe('formatting and samples', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(64 * 1024 * 1024)).toBe('64.0 MiB');
    expect(formatBytes(undefined)).toBe('—');
  });
  it('keeps a bounded history', () => {
    let h = [] as ReturnType<typeof appendSample>;
    for (let i = 0; i < 5; i++) h = appendSample(h, { t: i, values: {} }, 3);
    expect(h.map((s) => s.t)).toEqual([2, 3, 4]);
  });
  it('reads memlock per lease and per principal', () => {
    const acc = {
      sampled: '2025-01-01T00:00:00Z',
      leases: [{ leaseId: '1c0ffee0-aaaa', uid: 0, pid: 7, limitBytes: -1, usedBytes: 10, vmLckBytes: 10, vmPinBytes: 0, peakBytes: 10, level: 'UNLIMITED' as const, lockedPages: 0, processAlive: true }],
      principals: [{ uid: 0, leases: 1, limitBytes: -1, usedBytes: 10, peakBytes: 10 }],
      host: { leases: 1, limitBytes: -1, usedBytes: 10, peakBytes: 10 },
    };
    expect(memlockSeries(acc)).toEqual({ 'lease 1c0ffee0': 10, 'uid 0': 10 });
  });

  it('shows -1 as unlimited', () => {
    expect(formatLimit(-1)).toBe('unlimited');
    expect(formatLimit(4 << 20)).toBe('4.0 MiB');
  });
});
