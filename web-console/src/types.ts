// Shapes the daemon's REST answers with (see daemon io.vfiobroker.web). Later fields are optional.

export interface Sriov {
  totalVfs: number;
  numVfs: number;
  virtualFunctions: string[];
}

export interface Device {
  address: string;
  vendorId: string;
  deviceId: string;
  subsystemVendorId?: string;
  subsystemDeviceId?: string;
  pciClass: string;
  vendorName: string | null;
  deviceName: string | null;
  driver: string | null;
  driverOverride: string | null;
  numaNode: number;
  resetMethods: string[];
  bootVga: boolean;
  iommuGroup: number | null;
  iommuUnit: string | null;
  sriov: Sriov | null;
  physicalFunction: string | null;
  virtualFunction: boolean;
  /** Present once the protected-device checks report why a device must not be bound. */
  protectedReasons?: string[];
  protection?: { reasons?: string[] } | null;
}

export interface Group {
  id: number;
  devices: string[];
  viable: boolean;
  blockers: string[];
}

export interface IommuUnit {
  name: string;
  type: string;
  interruptRemapping: 'supported' | 'unsupported' | 'unknown';
  evidence: string;
  registers: Record<string, string>;
}

export interface IommuView {
  units: IommuUnit[];
  kernel: Record<string, boolean | null>;
}

/** GET /api/v1/leases (io.vfiobroker.lease.Lease). */
export interface Lease {
  id: string;
  holder: { pid: number; uid: number; gid: number };
  devices: { address: string; group: number; vendorDevice: string }[];
  backend: string;
  unsafeInterrupts: boolean;
  rule: string;
  /** -1 = unlimited */
  memlockLimitBytes: number;
  state: 'GRANTED' | 'ACTIVE' | 'ENDING' | 'STUCK' | 'ENDED';
  created: string;
  ended: string | null;
  endReason: string | null;
  /** Other members of the leased IOMMU groups the grant covers (a legacy group fd opens them). */
  groupMembers: { address: string; group: number; vendorDevice: string }[];
  /** While ENDING or STUCK: the processes still holding the lease's files. */
  stuckHolders: string[];
}

export type MemlockLevel = 'OK' | 'NEAR_LIMIT' | 'OVER_LIMIT' | 'UNLIMITED';

/** GET /api/v1/accounting; every limit -1 = unlimited. */
export interface AccountingReport {
  sampled: string;
  leases: {
    leaseId: string; uid: number; pid: number; limitBytes: number; usedBytes: number; vmLckBytes: number; vmPinBytes: number;
    peakBytes: number; level: MemlockLevel; lockedPages: number; processAlive: boolean;
  }[];
  principals: { uid: number; leases: number; limitBytes: number; usedBytes: number; peakBytes: number }[];
  host: { leases: number; limitBytes: number; usedBytes: number; peakBytes: number };
}

/** GET /api/v1/audit, newest first. */
export interface AuditRecord {
  seq: number;
  time: string;
  event: string;
  fields: Record<string, unknown>;
}
