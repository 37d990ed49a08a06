package io.vfiobroker.grpc;

import io.grpc.BindableService;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.api.v1.BindRequest;
import io.vfiobroker.api.v1.BindingStatus;
import io.vfiobroker.api.v1.BindingStatusRequest;
import io.vfiobroker.api.v1.BindingsGrpc;
import io.vfiobroker.api.v1.BoundDevice;
import io.vfiobroker.api.v1.PlannedMember;
import io.vfiobroker.api.v1.ReleaseBindingRequest;
import io.vfiobroker.api.v1.SysfsWrite;
import io.vfiobroker.binding.BindingException;
import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.binding.SysfsStep;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.lease.Caller;

import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** vfiobroker.v1.Bindings: bind, release and status for admins, through the core's audited binding changes, as REST. */
public record BindingsGrpcService(DeviceProvisioning core, Authz authz) implements BindingsGrpc.AsyncService, BindableService {

    private static final Pattern ADDRESS = Pattern.compile("\\b[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-7]\\b");
    private static final Pattern LEASE = Pattern.compile("\\blease ([0-9a-f-]{36})\\b");

    @Override
    public void bind(BindRequest req, StreamObserver<io.vfiobroker.api.v1.BindingPlan> out) {
        call(out, "Bind", by -> {
            String address = req.getTargetCase() == BindRequest.TargetCase.ADDRESS ? req.getAddress() : null;
            Integer group = req.getTargetCase() == BindRequest.TargetCase.GROUP ? req.getGroup() : null;
            return plan(core.bind(address, group, req.getDryRun(), by), req.getDryRun());
        });
    }

    @Override
    public void release(ReleaseBindingRequest req, StreamObserver<io.vfiobroker.api.v1.BindingPlan> out) {
        call(out, "Release", by -> {
            String address = req.getTargetCase() == ReleaseBindingRequest.TargetCase.ADDRESS ? req.getAddress() : null;
            Integer group = req.getTargetCase() == ReleaseBindingRequest.TargetCase.GROUP ? req.getGroup() : null;
            boolean restore = !req.hasRestoreDriver() || req.getRestoreDriver();
            return plan(core.release(address, group, restore, req.getDryRun(), by), req.getDryRun());
        });
    }

    @Override
    public void status(BindingStatusRequest req, StreamObserver<BindingStatus> out) {
        call(out, "Status", by -> {
            BindingStatus.Builder b = BindingStatus.newBuilder();
            if (req.getReconcile()) b.addAllReconciled(core.reconcile(by));
            for (Journal.Owned o : core.owned().values()) {
                b.addDevices(BoundDevice.newBuilder().setAddress(o.device().toString()).setGroup(o.group())
                        .setOriginalDriver(ProtoMapping.nz(o.originalDriver())).setOriginalOverride(ProtoMapping.nz(o.originalOverride()))
                        .setSince(ProtoMapping.nz(o.since())));
            }
            return b.build();
        });
    }

    private interface Work<T> {
        T run(String by);
    }

    /** Admins only; the binding service's refusals and failures as statuses with an ErrorInfo. */
    private <T> void call(StreamObserver<T> out, String method, Work<T> work) {
        Supplier<T> checked = () -> {
            Caller caller = CallerInterceptor.caller();
            if (!authz.isAdmin(caller)) {
                throw GrpcErrors.error(Status.Code.PERMISSION_DENIED, "ADMIN_REQUIRED", "Bindings." + method + " is for admins (root or the "
                        + "configured admin group); uid " + caller.uid() + " is not an admin", "uid", Integer.toString(caller.uid()));
            }
            String remote = Authz.REMOTE_ADMIN.get();
            String by = remote != null ? "remote admin " + remote : caller.toString();
            try {
                return work.run(by);
            } catch (BindingException e) {
                throw status(e);
            }
        };
        Calls.respond(out, checked);
    }

    static StatusRuntimeException status(BindingException e) {
        String msg = e.getMessage() == null ? "" : e.getMessage();
        Matcher d = ADDRESS.matcher(msg);
        String device = d.find() ? d.group() : null;
        Matcher l = LEASE.matcher(msg);
        String lease = l.find() ? l.group(1) : null;
        if (!e.refused()) return GrpcErrors.error(Status.Code.FAILED_PRECONDITION, "KERNEL", msg, "device", device);
        if (msg.startsWith("no PCI device") || msg.startsWith("no IOMMU group")) {
            return GrpcErrors.error(Status.Code.NOT_FOUND, "DEVICE_NOT_FOUND", msg, "device", device);
        }
        return GrpcErrors.error(Status.Code.FAILED_PRECONDITION, "PRECONDITION", msg, "device", device, "lease", lease);
    }

    static io.vfiobroker.api.v1.BindingPlan plan(BindingPlan p, boolean dryRun) {
        io.vfiobroker.api.v1.BindingPlan.Builder b = io.vfiobroker.api.v1.BindingPlan.newBuilder().setOperation(p.operation())
                .setGroup(p.group()).setRequested(p.requested() == null ? "" : p.requested().toString())
                .addAllRefusals(p.refusals()).setDriverStatus(ProtoMapping.nz(p.driverStatus())).setDryRun(dryRun);
        for (BindingPlan.Member m : p.members()) {
            b.addMembers(PlannedMember.newBuilder().setAddress(m.address().toString()).setDriver(ProtoMapping.nz(m.driver()))
                    .setDriverOverride(ProtoMapping.nz(m.driverOverride())).setAction(ProtoMapping.nz(m.action())));
        }
        for (SysfsStep s : p.steps()) {
            b.addSteps(SysfsWrite.newBuilder().setDevice(s.device().toString()).setAction(s.action()).setPath(s.path()).setValue(s.value()));
        }
        return b.build();
    }

    @Override
    public ServerServiceDefinition bindService() {
        return BindingsGrpc.bindService(this);
    }
}
