package io.vfiobroker.grpc;

import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.api.v1.DeviceState;
import io.vfiobroker.api.v1.GetDeviceRequest;
import io.vfiobroker.api.v1.InventoryGrpc;
import io.vfiobroker.api.v1.IommuGroup;
import io.vfiobroker.api.v1.IommuUnit;
import io.vfiobroker.api.v1.InterruptRemapping;
import io.vfiobroker.api.v1.ListDevicesRequest;
import io.vfiobroker.api.v1.ListDevicesResponse;
import io.vfiobroker.api.v1.ListGroupsRequest;
import io.vfiobroker.api.v1.ListGroupsResponse;
import io.vfiobroker.api.v1.ListIommuUnitsRequest;
import io.vfiobroker.api.v1.ListIommuUnitsResponse;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;

import java.util.HashMap;
import java.util.Map;

/** vfiobroker.v1.Inventory from the core's current view (the hotplug-maintained cache): no sysfs walk per call. */
public record InventoryGrpcService(DeviceProvisioning core, LeaseService leases, Authz authz) implements InventoryGrpc.AsyncService, BindableService {

    private Map<PciAddress, String> leasedBy() {
        Map<PciAddress, String> m = new HashMap<>();
        for (Lease l : leases.active()) for (Lease.Device d : l.devices()) m.put(d.address(), l.id());
        return m;
    }

    static PciAddress address(String text, String field) {
        if (text.length() > 16 || !PciAddress.isValid(text)) {
            throw GrpcErrors.invalid(field + " must be a PCI address DDDD:BB:DD.F" + (text.length() > 16 ? " (got " + text.length() + " characters)"
                    : ", not '" + text + "'"), field);
        }
        return PciAddress.parse(text);
    }

    @Override
    public void listDevices(ListDevicesRequest req, StreamObserver<ListDevicesResponse> out) {
        Calls.respond(out, () -> {
            Caller caller = CallerInterceptor.caller();
            boolean admin = authz.isAdmin(caller);
            if (req.getVendorDevice().length() > 9 || req.getDriver().length() > 64 || req.getClassPrefix().length() > 6) {
                throw GrpcErrors.invalid("a filter is longer than any value it could match", "filter");
            }
            PciAddress pf = req.getPhysicalFunction().isEmpty() ? null : address(req.getPhysicalFunction(), "physical_function");
            Map<PciAddress, String> leased = leasedBy();
            ListDevicesResponse.Builder b = ListDevicesResponse.newBuilder();
            for (Device d : core.currentDevices()) {
                if (!req.getVendorDevice().isEmpty() && !req.getVendorDevice().equalsIgnoreCase(d.vendorDevice())) continue;
                if (!req.getDriver().isEmpty() && !req.getDriver().equals(d.driver() == null ? "none" : d.driver())) continue;
                if (req.hasIommuGroup() && (d.iommuGroup() == null || d.iommuGroup() != req.getIommuGroup())) continue;
                if (!req.getClassPrefix().isEmpty() && (d.pciClass() == null || !d.pciClass().toString().startsWith(req.getClassPrefix().toLowerCase()))) continue;
                if (req.getState() != DeviceState.DEVICE_STATE_UNSPECIFIED && req.getState() != ProtoMapping.state(d)) continue;
                if (pf != null && !pf.equals(d.physicalFunction())) continue;
                if (req.hasLeased() && req.getLeased() != leased.containsKey(d.address())) continue;
                b.addDevices(ProtoMapping.device(d, leased.get(d.address()), admin));
            }
            return b.build();
        });
    }

    @Override
    public void getDevice(GetDeviceRequest req, StreamObserver<io.vfiobroker.api.v1.Device> out) {
        Calls.respond(out, () -> {
            PciAddress a = address(req.getAddress(), "address");
            Device d = core.currentDevice(a).orElseThrow(() -> GrpcErrors.error(Status.Code.NOT_FOUND, "DEVICE_NOT_FOUND",
                    "no PCI device " + a + " on this host", "device", a.toString()));
            return ProtoMapping.device(d, leasedBy().get(a), authz.isAdmin(CallerInterceptor.caller()));
        });
    }

    @Override
    public void listGroups(ListGroupsRequest req, StreamObserver<ListGroupsResponse> out) {
        Calls.respond(out, () -> {
            ListGroupsResponse.Builder b = ListGroupsResponse.newBuilder();
            for (io.vfiobroker.domain.IommuGroup g : core.currentGroups()) {
                if (req.getViableOnly() && !g.viable()) continue;
                b.addGroups(IommuGroup.newBuilder().setId(g.id()).addAllDevices(g.devices().stream().map(Object::toString).toList())
                        .setViable(g.viable()).addAllBlockers(g.blockers()));
            }
            return b.build();
        });
    }

    @Override
    public void listIommuUnits(ListIommuUnitsRequest req, StreamObserver<ListIommuUnitsResponse> out) {
        Calls.respond(out, () -> {
            ListIommuUnitsResponse.Builder b = ListIommuUnitsResponse.newBuilder();
            for (io.vfiobroker.domain.IommuUnit u : core.currentIommuUnits()) {
                b.addUnits(IommuUnit.newBuilder().setName(u.name()).setType(ProtoMapping.nz(u.type()))
                        .setInterruptRemapping(switch (u.interruptRemapping()) {
                            case SUPPORTED -> InterruptRemapping.INTERRUPT_REMAPPING_SUPPORTED;
                            case UNSUPPORTED -> InterruptRemapping.INTERRUPT_REMAPPING_UNSUPPORTED;
                            case UNKNOWN -> InterruptRemapping.INTERRUPT_REMAPPING_UNKNOWN;
                        })
                        .setEvidence(ProtoMapping.nz(u.evidence())).putAllRegisters(u.registers()));
            }
            return b.build();
        });
    }

    @Override
    public ServerServiceDefinition bindService() {
        return InventoryGrpc.bindService(this);
    }
}
