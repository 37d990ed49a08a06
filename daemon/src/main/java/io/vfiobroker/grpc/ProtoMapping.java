package io.vfiobroker.grpc;

import com.google.protobuf.Timestamp;
import io.vfiobroker.accounting.AccountingService;
import io.vfiobroker.api.v1.BindingChange;
import io.vfiobroker.api.v1.DeviceChange;
import io.vfiobroker.api.v1.DeviceState;
import io.vfiobroker.api.v1.Dropped;
import io.vfiobroker.api.v1.Event;
import io.vfiobroker.api.v1.EventKind;
import io.vfiobroker.api.v1.HostMemlock;
import io.vfiobroker.api.v1.LeaseMemlock;
import io.vfiobroker.api.v1.MemlockLevel;
import io.vfiobroker.api.v1.MemlockReport;
import io.vfiobroker.api.v1.MemlockThreshold;
import io.vfiobroker.api.v1.PolicyChange;
import io.vfiobroker.api.v1.PrincipalMemlock;
import io.vfiobroker.api.v1.SriovInfo;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.Device;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.Published;
import io.vfiobroker.inventory.InventoryScanner;

import java.time.Instant;

/** Domain values to vfiobroker.v1 messages: wire mapping only, in one place. */
final class ProtoMapping {

    private ProtoMapping() {
    }

    static Timestamp ts(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }

    /** The wire's backend, null for UNSPECIFIED (policy and kernel choose); a number this daemon does not know is refused. */
    static Backend backend(io.vfiobroker.api.v1.Backend b, int number) {
        return switch (b) {
            case BACKEND_LEGACY -> Backend.LEGACY;
            case BACKEND_IOMMUFD -> Backend.IOMMUFD;
            case BACKEND_UNSPECIFIED -> null;
            default -> throw GrpcErrors.invalid("unknown backend " + number + ": BACKEND_LEGACY (1), BACKEND_IOMMUFD (2) or "
                    + "BACKEND_UNSPECIFIED (0)", "backend");
        };
    }

    static io.vfiobroker.api.v1.Backend backend(Backend b) {
        return switch (b) {
            case LEGACY -> io.vfiobroker.api.v1.Backend.BACKEND_LEGACY;
            case IOMMUFD -> io.vfiobroker.api.v1.Backend.BACKEND_IOMMUFD;
        };
    }

    static String nz(String s) {
        return s == null ? "" : s;
    }

    static DeviceState state(Device d) {
        if (d.driver() == null) return DeviceState.DEVICE_STATE_NO_DRIVER;
        return d.boundTo(InventoryScanner.VFIO_PCI) ? DeviceState.DEVICE_STATE_VFIO : DeviceState.DEVICE_STATE_HOST_DRIVER;
    }

    static io.vfiobroker.api.v1.Device device(Device d, String leaseId, boolean showLease) {
        io.vfiobroker.api.v1.Device.Builder b = io.vfiobroker.api.v1.Device.newBuilder()
                .setAddress(d.address().toString()).setVendorId(nz(d.vendorId())).setDeviceId(nz(d.deviceId()))
                .setSubsystemVendorId(nz(d.subsystemVendorId())).setSubsystemDeviceId(nz(d.subsystemDeviceId()))
                .setClassCode(d.pciClass() == null ? "" : d.pciClass().toString()).setVendorName(nz(d.vendorName())).setDeviceName(nz(d.deviceName()))
                .setDriver(nz(d.driver())).setDriverOverride(nz(d.driverOverride())).setNumaNode(d.numaNode())
                .addAllResetMethods(d.resetMethods()).setIommuUnit(nz(d.iommuUnit())).setState(state(d)).setBootVga(d.bootVga())
                .setLeased(leaseId != null).setLeaseId(showLease && leaseId != null ? leaseId : "");
        if (d.iommuGroup() != null) b.setIommuGroup(d.iommuGroup());
        if (d.physicalFunction() != null) b.setPhysicalFunction(d.physicalFunction().toString());
        if (d.sriov() != null) {
            b.setSriov(SriovInfo.newBuilder().setTotalVfs(d.sriov().totalVfs()).setNumVfs(d.sriov().numVfs())
                    .addAllVirtualFunctions(d.sriov().virtualFunctions().stream().map(Object::toString).toList()));
        }
        return b.build();
    }

    static EventKind kind(String k) {
        return switch (k) {
            case "device" -> EventKind.EVENT_KIND_DEVICE;
            case "binding" -> EventKind.EVENT_KIND_BINDING;
            case "lease" -> EventKind.EVENT_KIND_LEASE;
            case "policy" -> EventKind.EVENT_KIND_POLICY;
            case "accounting" -> EventKind.EVENT_KIND_ACCOUNTING;
            default -> EventKind.EVENT_KIND_UNSPECIFIED;
        };
    }

    static Event event(Published p) {
        BrokerEvent e = p.event();
        Event.Builder b = Event.newBuilder().setSeq(p.seq()).setTime(ts(p.time())).setKind(kind(e.kind())).setType(e.type());
        if (e instanceof BrokerEvent.DeviceChanged d) {
            b.setDevice(DeviceChange.newBuilder().setAddress(d.address()).setDriver(nz(d.driver())).setIommuGroup(d.iommuGroup())
                    .setVendorDevice(nz(d.vendorDevice())).setSource(nz(d.source())).setUeventAction(nz(d.ueventAction()))
                    .setDevpath(nz(d.devpath())).setNumVfs(d.numVfs()).addAllEndedLeases(d.endedLeases()));
        } else if (e instanceof BrokerEvent.BindingChanged c) {
            b.setBinding(BindingChange.newBuilder().setOperation(c.operation()).setIommuGroup(c.group()).setRequested(nz(c.requested()))
                    .addAllDevices(c.devices()).setOk(c.ok()).setError(nz(c.error())));
        } else if (e instanceof BrokerEvent.LeaseChanged l) {
            b.setLease(LeasesGrpcService.toProto(l.lease()));
        } else if (e instanceof BrokerEvent.PolicyChanged pc) {
            b.setPolicy(PolicyChange.newBuilder().setState(pc.status().state().name()).setMessage(nz(pc.status().message()))
                    .setActiveSha256(nz(pc.status().activeSha256())).setActiveRules(pc.status().activeRules()));
        } else if (e instanceof BrokerEvent.MemlockThreshold m) {
            b.setMemlock(MemlockThreshold.newBuilder().setLeaseId(m.leaseId()).setUid(m.uid()).setPid(m.pid()).setUsedBytes(m.usedBytes())
                    .setLimitBytes(m.limitBytes()).setLevel(m.level()));
        } else if (e instanceof BrokerEvent.Dropped dr) {
            b.setDropped(Dropped.newBuilder().setReason(dr.reason()).setLostFromSeq(dr.lostFromSeq()));
        }
        return b.build();
    }

    static MemlockLevel level(AccountingService.Level l) {
        return switch (l) {
            case OK -> MemlockLevel.MEMLOCK_LEVEL_OK;
            case NEAR_LIMIT -> MemlockLevel.MEMLOCK_LEVEL_NEAR_LIMIT;
            case OVER_LIMIT -> MemlockLevel.MEMLOCK_LEVEL_OVER_LIMIT;
            case UNLIMITED -> MemlockLevel.MEMLOCK_LEVEL_UNLIMITED;
        };
    }

    /** The report as {@code uid} may see it: admins everything, clients their own leases and uid. */
    static MemlockReport report(AccountingService.Report r, boolean admin, int uid, String leaseId) {
        MemlockReport.Builder b = MemlockReport.newBuilder().setSampled(ts(r.sampled()));
        for (AccountingService.LeaseUse u : r.leases()) {
            if (!admin && u.uid() != uid) continue;
            if (!leaseId.isEmpty() && !leaseId.equals(u.leaseId())) continue;
            b.addLeases(LeaseMemlock.newBuilder().setLeaseId(u.leaseId()).setUid(u.uid()).setPid(u.pid()).setLimitBytes(u.limitBytes())
                    .setUsedBytes(u.usedBytes()).setVmLckBytes(u.vmLckBytes()).setVmPinBytes(u.vmPinBytes()).setPeakBytes(u.peakBytes())
                    .setLevel(level(u.level())).setLockedPages(u.lockedPages()).setProcessAlive(u.processAlive()));
        }
        for (AccountingService.PrincipalUse p : r.principals()) {
            if (!admin && p.uid() != uid) continue;
            b.addPrincipals(PrincipalMemlock.newBuilder().setUid(p.uid()).setLeases(p.leases()).setLimitBytes(p.limitBytes())
                    .setUsedBytes(p.usedBytes()).setPeakBytes(p.peakBytes()));
        }
        if (admin) {
            b.setHost(HostMemlock.newBuilder().setLeases(r.host().leases()).setLimitBytes(r.host().limitBytes())
                    .setUsedBytes(r.host().usedBytes()).setPeakBytes(r.host().peakBytes()));
        }
        return b.build();
    }
}
