package io.vfiobroker.controlplane;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.netty.channel.EventLoopGroup;
import io.vfiobroker.api.v1.BindRequest;
import io.vfiobroker.api.v1.BindingStatusRequest;
import io.vfiobroker.api.v1.BindingsGrpc;
import io.vfiobroker.api.v1.ReleaseBindingRequest;
import io.vfiobroker.grpc.GrpcErrors;

import java.nio.file.Path;
import java.util.function.Supplier;

/** Run as another uid: calls every Bindings method, one line each: NAME CODE REASON uid=META | description. */
public final class BindingsClientMain {

    public static void main(String[] args) {
        EventLoopGroup[] g = new EventLoopGroup[1];
        ManagedChannel ch = ControlPlane.channel(Path.of(args[0]), g);
        BindingsGrpc.BindingsBlockingStub stub = BindingsGrpc.newBlockingStub(ch);
        try {
            line("BIND", () -> stub.bind(BindRequest.newBuilder().setAddress(args[1]).build()).getOperation());
            line("RELEASE", () -> stub.release(ReleaseBindingRequest.newBuilder().setGroup(Integer.parseInt(args[2])).build()).getOperation());
            line("STATUS", () -> Integer.toString(stub.status(BindingStatusRequest.getDefaultInstance()).getDevicesCount()));
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
            System.out.println(what + " " + e.getStatus().getCode() + " " + (info == null ? "-" : info.getReason()) + " uid="
                    + (info == null ? "-" : info.getMetadataOrDefault("uid", "-")) + " | " + e.getStatus().getDescription());
        }
        System.out.flush();
    }
}
