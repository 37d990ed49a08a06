package io.vfiobroker.grpc;

import com.google.protobuf.Timestamp;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.AcquireResponse;
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

    private final Authz authz;

    public LeasesGrpcService(LeaseService leases, Path fdSocket) {
        this(leases, fdSocket, Authz.rootOnly());
    }

    public LeasesGrpcService(LeaseService leases, Path fdSocket, Authz authz) {
        this.leases = leases;
        this.fdSocket = fdSocket;
        this.authz = authz;
    }

    /** Lease ids are UUIDs; anything longer is refused before it reaches a log line. */
    private static String leaseId(String id) {
        if (id.isEmpty() || id.length() > 64) throw GrpcErrors.invalid("lease_id must be 1..64 characters, not " + id.length(), "lease_id");
        return id;
    }

    @Override
    public void acquire(AcquireRequest req, StreamObserver<AcquireResponse> out) {
        respond(out, () -> {
            Caller caller = CallerInterceptor.caller();
            if (req.getMemlockBytes() < 0) throw GrpcErrors.invalid("memlock_bytes " + Long.toUnsignedString(req.getMemlockBytes()) + " is out of range", "memlock_bytes");
            for (String d : req.getDevicesList()) {
                // Longer than any DDDD:BB:DD.F: refused without echoing it into logs and audit records.
                if (d.length() > 16) throw GrpcErrors.invalid("device address of " + d.length() + " characters: expected DDDD:BB:DD.F", "devices");
            }
            io.vfiobroker.domain.Backend backend = ProtoMapping.backend(req.getBackend(), req.getBackendValue());
            // Tokens are 43 base64url characters; a long one is refused before it reaches a log line.
            if (req.getAllocation().length() > 64) throw GrpcErrors.invalid("allocation of " + req.getAllocation().length() + " characters", "allocation");
            String allocation = req.getAllocation().isEmpty() ? null : req.getAllocation();
            Map.Entry<Lease, String> granted = leases.acquire(caller, allocation, req.getDevicesList(), backend, req.getMemlockBytes());
            return AcquireResponse.newBuilder().setLease(toProto(granted.getKey())).setTicket(granted.getValue())
                    .setTicketTtlMs((int) leases.ticketTtl().toMillis()).setFdSocket(fdSocket.toString()).build();
        });
    }

    @Override
    public void release(ReleaseRequest req, StreamObserver<io.vfiobroker.api.v1.Lease> out) {
        respond(out, () -> {
            Caller caller = CallerInterceptor.caller();
            String id = leaseId(req.getLeaseId());
            // An admin ending someone else's lease is a revocation, whoever the admin is (root, admin group, remote).
            boolean admin = authz.isAdmin(caller);
            Lease l = admin ? leases.get(id).filter(Lease::active).orElse(null) : null;
            if (l != null && (l.holder().uid() != caller.uid() || caller.pid() < 0)) {
                return toProto(leases.revoke(id, "revoked by admin").orElseThrow(() -> new LeaseException(LeaseException.Kind.NOT_FOUND, "no active lease " + id)));
            }
            if (!admin) {
                // A pod's uid 0 is not root: it ends only leases of its own pid namespace, never by LeaseService's root rule.
                Lease mine = leases.get(id).filter(Lease::active).orElse(null);
                if (mine != null && !authz.owns(caller, mine.holder())) {
                    throw new LeaseException(LeaseException.Kind.DENIED, "lease " + id + " belongs to another principal");
                }
            }
            return toProto(leases.release(id, caller));
        });
    }

    @Override
    public void get(GetLeaseRequest req, StreamObserver<io.vfiobroker.api.v1.Lease> out) {
        respond(out, () -> {
            Caller caller = CallerInterceptor.caller();
            boolean admin = authz.isAdmin(caller);
            Lease l = leases.get(leaseId(req.getLeaseId()))
                    .filter(x -> admin || authz.owns(caller, x.holder()))
                    .orElseThrow(() -> new LeaseException(LeaseException.Kind.NOT_FOUND, "no lease " + req.getLeaseId() + " visible to " + caller));
            return toProto(l);
        });
    }

    @Override
    public void list(ListLeasesRequest req, StreamObserver<ListLeasesResponse> out) {
        respond(out, () -> {
            ListLeasesResponse.Builder b = ListLeasesResponse.newBuilder();
            Caller caller = CallerInterceptor.caller();
            boolean admin = authz.isAdmin(caller);
            for (Lease l : leases.active()) if (admin || authz.owns(caller, l.holder())) b.addLeases(toProto(l));
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
            out.onError(GrpcErrors.invalid(e.getMessage(), null));
        } catch (RuntimeException e) {
            out.onError(Status.INTERNAL.withDescription(e.getMessage()).withCause(e).asRuntimeException());
        }
    }

    static StatusRuntimeException status(LeaseException e) {
        return GrpcErrors.of(e);
    }

    public static io.vfiobroker.api.v1.Lease toProto(Lease l) {
        io.vfiobroker.api.v1.Lease.Builder b = io.vfiobroker.api.v1.Lease.newBuilder()
                .setId(l.id()).setUid(l.holder().uid()).setGid(l.holder().gid()).setPid(l.holder().pid())
                .setBackend(ProtoMapping.backend(l.backend()))
                .setUnsafeInterrupts(l.unsafeInterrupts()).setRule(l.rule() == null ? "" : l.rule())
                .setMemlockLimitBytes(Math.max(0, l.memlockLimitBytes()))
                .setState(switch (l.state()) {
                    case GRANTED -> LeaseState.LEASE_STATE_GRANTED;
                    case ACTIVE -> LeaseState.LEASE_STATE_ACTIVE;
                    case ENDING -> LeaseState.LEASE_STATE_ENDING;
                    case STUCK -> LeaseState.LEASE_STATE_STUCK;
                    case ENDED -> LeaseState.LEASE_STATE_ENDED;
                })
                .setCreated(ts(l.created()));
        if (l.ended() != null) b.setEnded(ts(l.ended()));
        if (l.endReason() != null) b.setEndReason(l.endReason());
        for (Lease.Device d : l.devices()) {
            b.addDevices(LeasedDevice.newBuilder().setAddress(d.address().toString()).setIommuGroup(d.group()).setVendorDevice(d.vendorDevice()));
        }
        for (Lease.Device d : l.groupMembers()) b.addGroupMembers(d.address().toString());
        b.addAllStuckHolders(l.stuckHolders());
        return b.build();
    }

    private static Timestamp ts(Instant i) {
        return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
    }
}
