package io.vfiobroker.grpc;

import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.PeerCredentialsNegotiator;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ForkJoinPool;

/** The daemon's gRPC endpoint on a Unix socket (api.sock); every call carries the peer's SO_PEERCRED. */
public final class GrpcServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(GrpcServer.class);

    private final Path path;
    private final Server server;
    private final EventLoopGroup group;
    private final ForkJoinPool calls = new ForkJoinPool(Math.max(8, 2 * Runtime.getRuntime().availableProcessors()),
            ForkJoinPool.defaultForkJoinWorkerThreadFactory, null, true);
    private final HealthStatusManager health = new HealthStatusManager();

    public GrpcServer(Path path, List<BindableService> services) throws IOException {
        this(path, services, List.of(), null);
    }

    public GrpcServer(Path path, List<BindableService> services, List<io.grpc.ServerInterceptor> interceptors) throws IOException {
        this(path, services, interceptors, null);
    }

    /**
     * @param interceptors run after the SO_PEERCRED check (metrics)
     * @param socketGroup  group allowed to connect (mode 0660), or null for any local user (0666)
     */
    public GrpcServer(Path path, List<BindableService> services, List<io.grpc.ServerInterceptor> interceptors, String socketGroup)
            throws IOException {
        this.path = path;
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path);
        this.group = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        CallerInterceptor callers = new CallerInterceptor();
        NettyServerBuilder b = NettyServerBuilder.forAddress(new DomainSocketAddress(path.toString()), PeerCredentialsNegotiator.serverCredentials())
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(group)
                .workerEventLoopGroup(group)
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                // A fixed work-stealing pool instead of gRPC's cached one: its workers take queued calls without a
                // park/unpark hand-off per call, which is most of a short call's cost. Bounded, so at most this
                // many slow calls (binds, resets) run at once; the rest wait their turn.
                .executor(calls);
        List<io.grpc.ServerInterceptor> chain = new java.util.ArrayList<>(interceptors);
        chain.add(callers); // the last one runs first: identity before anything else
        for (BindableService s : services) b.addService(ServerInterceptors.intercept(s, chain));
        this.server = b.build().start();
        io.vfiobroker.authz.SocketAccess.apply(path, socketGroup);
        log.info("event=grpc-listening path={}", path);
    }

    public Path path() {
        return path;
    }

    @Override
    public void close() {
        health.enterTerminalState();
        server.shutdownNow();
        try {
            server.awaitTermination(2, java.util.concurrent.TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully();
        calls.shutdown();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // the runtime directory goes away with the service anyway
        }
    }
}
