package io.vfiobroker.lease;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.netty.channel.EventLoopGroup;
import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.ExplainRequest;
import io.vfiobroker.api.v1.GetLeaseRequest;
import io.vfiobroker.api.v1.LeasesGrpc;
import io.vfiobroker.api.v1.ListLeasesRequest;
import io.vfiobroker.api.v1.PolicyGrpc;
import io.vfiobroker.api.v1.ReleaseRequest;
import io.vfiobroker.api.v1.ReloadPolicyRequest;
import io.vfiobroker.controlplane.ControlPlane;
import io.vfiobroker.grpc.GrpcErrors;

import java.nio.file.Path;
import java.util.function.Supplier;

/** Run as another uid: tries what a client may and may not do, one line per attempt. */
public final class AuthzClientMain {

    public static void main(String[] args) throws Exception {
        EventLoopGroup[] g = new EventLoopGroup[1];
        ManagedChannel ch = ControlPlane.channel(Path.of(args[0]), g);
        String otherLease = args[1];
        LeasesGrpc.LeasesBlockingStub leases = LeasesGrpc.newBlockingStub(ch);
        PolicyGrpc.PolicyBlockingStub policy = PolicyGrpc.newBlockingStub(ch);
        try {
            line("LIST", () -> Integer.toString(leases.list(ListLeasesRequest.getDefaultInstance()).getLeasesCount()));
            line("GET_OTHER", () -> leases.get(GetLeaseRequest.newBuilder().setLeaseId(otherLease).build()).getId());
            line("RELOAD", () -> policy.reload(ReloadPolicyRequest.getDefaultInstance()).getState().name());
            line("EXPLAIN_OTHER", () -> Boolean.toString(policy.explain(ExplainRequest.newBuilder().setAddress("0000:06:00.0").setUid(0).build()).getAllowed()));
            line("EXPLAIN_SELF", () -> policy.explain(ExplainRequest.newBuilder().setAddress("0000:07:02.1").build()).getRule());
            line("ACQUIRE", () -> leases.acquire(AcquireRequest.newBuilder().addDevices("0000:07:02.1").build()).getLease().getUid() + "");
            line("LIST_AFTER", () -> Integer.toString(leases.list(ListLeasesRequest.getDefaultInstance()).getLeasesCount()));
            line("RELEASE_OTHER", () -> leases.release(ReleaseRequest.newBuilder().setLeaseId(otherLease).build()).getEndReason());
        } finally {
            ch.shutdownNow();
            g[0].shutdownGracefully();
        }
    }

    private static void line(String what, Supplier<String> call) {
        try {
            System.out.println(what + " OK " + call.get());
        } catch (StatusRuntimeException e) {
            var info = GrpcErrors.info(e.getStatus(), e.getTrailers());
            System.out.println(what + " " + e.getStatus().getCode() + " " + (info == null ? "-" : info.getReason()));
        }
        System.out.flush();
    }
}
