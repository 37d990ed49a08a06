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
