package io.vfiobroker.grpc;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.AcquireResponse;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.api.v1.GetLeaseRequest;
import io.vfiobroker.api.v1.LeaseState;
import io.vfiobroker.api.v1.LeasedDevice;
import io.vfiobroker.api.v1.LeasesGrpc;
import io.vfiobroker.api.v1.ListLeasesRequest;
import io.vfiobroker.api.v1.ListLeasesResponse;
import io.vfiobroker.api.v1.ReleaseRequest;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseException;
import io.vfiobroker.lease.LeaseService;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.function.Supplier;

/** vfiobroker.v1.Leases over gRPC: wire mapping only; the lease service decides. */
public final class LeasesGrpcService extends LeasesGrpc.LeasesImplBase {

    private final LeaseService leases;
    private final Path fdSocket;

    public LeasesGrpcService(LeaseService leases, Path fdSocket) {
        this.leases = leases;
        this.fdSocket = fdSocket;
    }

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
        respond(out, () -> {
            Caller caller = CallerInterceptor.caller();
            String backend = switch (req.getBackend()) {
                case BACKEND_LEGACY -> "legacy";
                case BACKEND_IOMMUFD -> "iommufd";
                default -> null;
            };
            Map.Entry<Lease, String> granted = leases.acquire(caller, req.getDevicesList(), backend, req.getMemlockBytes());
            return AcquireResponse.newBuilder().setLease(toProto(granted.getKey())).setTicket(granted.getValue())
                    .setTicketTtlMs((int) leases.ticketTtl().toMillis()).setFdSocket(fdSocket.toString()).build();
        });
    }

    @Override
    public void release(ReleaseRequest req, StreamObserver<io.vfiobroker.api.v1.Lease> out) {
        respond(out, () -> toProto(leases.release(req.getLeaseId(), CallerInterceptor.caller())));
    }

    @Override
    public void get(GetLeaseRequest req, StreamObserver<io.vfiobroker.api.v1.Lease> out) {
        respond(out, () -> {
            Caller caller = CallerInterceptor.caller();
            Lease l = leases.get(req.getLeaseId())
                    .filter(x -> caller.isRoot() || x.holder().uid() == caller.uid())
                    .orElseThrow(() -> new LeaseException(LeaseException.Kind.NOT_FOUND, "no lease " + req.getLeaseId() + " visible to " + caller));
            return toProto(l);
        });
    }

    @Override
    public void list(ListLeasesRequest req, StreamObserver<ListLeasesResponse> out) {
        respond(out, () -> {
            ListLeasesResponse.Builder b = ListLeasesResponse.newBuilder();
            for (Lease l : leases.visibleTo(CallerInterceptor.caller())) b.addLeases(toProto(l));
            return b.build();
        });
    }

    private static <T> void respond(StreamObserver<T> out, Supplier<T> work) {
        try {
            out.onNext(work.get());
            out.onCompleted();
        } catch (LeaseException e) {
            out.onError(status(e));
        } catch (StatusRuntimeException e) {
            out.onError(e);
        } catch (IllegalArgumentException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
        } catch (RuntimeException e) {
            out.onError(Status.INTERNAL.withDescription(e.getMessage()).withCause(e).asRuntimeException());
        }
    }

    static StatusRuntimeException status(LeaseException e) {
        Status s = switch (e.kind()) {
            case INVALID -> Status.INVALID_ARGUMENT;
            case DENIED -> Status.PERMISSION_DENIED;
            case NOT_FOUND -> Status.NOT_FOUND;
            case CONFLICT -> Status.ALREADY_EXISTS;
            case PRECONDITION, KERNEL -> Status.FAILED_PRECONDITION;
            case EXHAUSTED -> Status.RESOURCE_EXHAUSTED;
        };
        return s.withDescription(e.getMessage()).asRuntimeException();
    }

    static io.vfiobroker.api.v1.Lease toProto(Lease l) {
        io.vfiobroker.api.v1.Lease.Builder b = io.vfiobroker.api.v1.Lease.newBuilder()
                .setId(l.id()).setUid(l.holder().uid()).setGid(l.holder().gid()).setPid(l.holder().pid())
                .setBackend("iommufd".equals(l.backend()) ? Backend.BACKEND_IOMMUFD : Backend.BACKEND_LEGACY)
                .setUnsafeInterrupts(l.unsafeInterrupts()).setRule(l.rule() == null ? "" : l.rule())
                .setMemlockLimitBytes(Math.max(0, l.memlockLimitBytes()))
                .setState(switch (l.state()) {
                    case PENDING -> LeaseState.LEASE_STATE_PENDING;
                    case ACTIVE -> LeaseState.LEASE_STATE_ACTIVE;
                    case ENDED -> LeaseState.LEASE_STATE_ENDED;
                })
                .setCreated(ts(l.created()));
        if (l.ended() != null) b.setEnded(ts(l.ended()));
        if (l.endReason() != null) b.setEndReason(l.endReason());
        for (Lease.Device d : l.devices()) {
            b.addDevices(LeasedDevice.newBuilder().setAddress(d.address().toString()).setIommuGroup(d.group()).setVendorDevice(d.vendorDevice()));
        }
        return b.build();
    }

    private static Timestamp ts(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }
}
