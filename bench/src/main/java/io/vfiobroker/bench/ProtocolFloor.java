package io.vfiobroker.bench;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthGrpc;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.vfiobroker.client.UnixChannels;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Posix;
import io.vfiobroker.nativeshim.ReceivedMessage;
import io.vfiobroker.nativeshim.SocketType;
import io.vfiobroker.nativeshim.UnixSockets;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The lease cycle's shape with no broker behind it: a unary gRPC call on the daemon's own {@link GrpcServer}
 * (Unix socket, SO_PEERCRED negotiator, its executor), a SEQPACKET exchange that hands over two fds, and a
 * second unary call, each client on its own channel and event loop as a client process has. What this
 * reaches on a machine bounds what any broker logic behind the same protocol can reach there.
 */
final class ProtocolFloor implements AutoCloseable {

    private final Path dir;
    private final GrpcServer grpc;
    private final OwnedFd listener;
    private final OwnedFd devNull = Posix.open(Path.of("/dev/null"), LibcAbi.O_RDONLY);
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean running = true;

    ProtocolFloor(Path parent) throws Exception {
        dir = Files.createTempDirectory(parent, "vbb-floor-");
        grpc = new GrpcServer(dir.resolve("api.sock"), List.<BindableService>of());
        listener = UnixSockets.listen(dir.resolve("fd.sock"), SocketType.SEQPACKET, 64);
        for (int i = 0; i < 4; i++) {
            Thread t = new Thread(this::serveFds, "floor-fd-" + i);
            t.setDaemon(true);
            t.start();
            workers.add(t);
        }
    }

    /** What FdSocketServer does per connection, minus the lease: peer credentials, the ticket, two fds back. */
    private void serveFds() {
        byte[] reply = "floor".getBytes(StandardCharsets.US_ASCII);
        while (running) {
            try (OwnedFd conn = UnixSockets.accept(listener.fd())) {
                UnixSockets.peerCred(conn.fd());
                if (!Posix.awaitReadable(conn.fd(), 5000)) continue;
                try (ReceivedMessage m = UnixSockets.recvFds(conn.fd(), 256, 0)) {
                    if (m.payload().length == 0) continue;
                }
                UnixSockets.sendFds(conn.fd(), reply, devNull.fd(), devNull.fd());
            } catch (NativeException e) {
                if (!running) return;
            }
        }
    }

    Path dir() {
        return dir;
    }

    /** One client of the floor in directory {@code dir}: its own channel and event loop. */
    static final class Client implements AutoCloseable {
        private final Path dir;
        private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        private final ManagedChannel channel;
        private final HealthGrpc.HealthBlockingStub health;
        private final byte[] ticket = "0123456789012345678901234567890123456789012".getBytes(StandardCharsets.US_ASCII);

        Client(Path dir) {
            this.dir = dir;
            channel = UnixChannels.builder(dir.resolve("api.sock")).eventLoopGroup(group).build();
            health = HealthGrpc.newBlockingStub(channel);
        }

        void cycle() {
            health.withDeadlineAfter(60, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance());
            try (OwnedFd sock = UnixSockets.connect(dir.resolve("fd.sock"), SocketType.SEQPACKET)) {
                UnixSockets.sendFds(sock.fd(), ticket);
                if (!Posix.awaitReadable(sock.fd(), 10_000)) throw new IllegalStateException("no fds within 10 s");
                try (ReceivedMessage m = UnixSockets.recvFds(sock.fd(), 1 << 16, UnixSockets.MAX_FDS)) {
                    if (m.fds().size() != 2) throw new IllegalStateException("expected 2 fds, got " + m.fds().size());
                }
            }
            health.withDeadlineAfter(60, TimeUnit.SECONDS).check(HealthCheckRequest.getDefaultInstance());
        }

        @Override
        public void close() {
            channel.shutdownNow();
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() throws Exception {
        running = false;
        UnixSockets.shutdown(listener.fd(), LibcAbi.SHUT_RDWR);
        for (Thread t : workers) t.join(2000);
        listener.close();
        grpc.close();
        devNull.close();
        Files.deleteIfExists(dir.resolve("fd.sock"));
        Files.deleteIfExists(dir.resolve("api.sock"));
        Files.deleteIfExists(dir);
    }
}
