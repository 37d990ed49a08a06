package io.vfiobroker.hostile;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.vfiobroker.api.v1.ExplainRequest;
import io.vfiobroker.api.v1.GetLeaseRequest;
import io.vfiobroker.api.v1.GetPolicyRequest;
import io.vfiobroker.api.v1.Lease;
import io.vfiobroker.api.v1.PolicyGrpc;
import io.vfiobroker.api.v1.ReloadPolicyRequest;
import io.vfiobroker.client.VfioBrokerClient;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The hostile-user suite's Java client: the project's own client library (and generated stubs) used against
 * the daemon by a user who has no business doing so. Prints "OK ..." or "ERROR CODE description".
 * Usage: JavaAttack RUN_DIR COMMAND [ARG]
 */
public final class JavaAttack {

    public static void main(String[] args) {
        Path runDir = Path.of(args[0]);
        String cmd = args[1];
        String arg = args.length > 2 ? args[2] : null;
        try (VfioBrokerClient client = VfioBrokerClient.connect(runDir)) {
            switch (cmd) {
                case "list" -> {
                    var leases = client.list();
                    System.out.println("OK " + leases.size() + " " + leases.stream().map(JavaAttack::summary).collect(Collectors.joining(" ")));
                }
                case "get" -> System.out.println("OK " + summary(client.stub().withDeadlineAfter(10, TimeUnit.SECONDS)
                        .get(GetLeaseRequest.newBuilder().setLeaseId(arg).build())));
                case "release" -> System.out.println("OK " + summary(client.release(arg)));
                case "policy-reload", "policy-get", "explain-other" -> policy(runDir, cmd, arg);
                default -> throw new IllegalArgumentException("unknown command " + cmd);
            }
        } catch (StatusRuntimeException e) {
            System.out.println("ERROR " + e.getStatus().getCode() + " " + oneLine(e.getStatus().getDescription()));
        }
        System.out.flush();
        System.exit(0);
    }

    private static void policy(Path runDir, String cmd, String arg) {
        var group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(runDir.resolve("api.sock").toString()))
                .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
        try {
            var stub = PolicyGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS);
            switch (cmd) {
                case "policy-reload" -> System.out.println("OK state=" + stub.reload(ReloadPolicyRequest.getDefaultInstance()).getState());
                case "policy-get" -> {
                    var st = stub.get(GetPolicyRequest.getDefaultInstance());
                    System.out.println("OK sha256=" + st.getActiveSha256() + " text_bytes=" + st.getText().length());
                }
                default -> {
                    // explain-other UID@ADDRESS
                    String[] p = arg.split("@", 2);
                    var ex = stub.explain(ExplainRequest.newBuilder().setUid(Integer.parseInt(p[0])).setAddress(p[1]).build());
                    System.out.println("OK allowed=" + ex.getAllowed() + " rule=" + ex.getRule());
                }
            }
        } finally {
            ch.shutdownNow();
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
    }

    private static String summary(Lease l) {
        return "[" + l.getId() + " uid=" + l.getUid() + " state=" + l.getState().getNumber() + "]";
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").strip();
    }
}
