package io.vfiobroker.client;

import io.grpc.ManagedChannel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.AcquireResponse;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.api.v1.FdBundle;
import io.vfiobroker.api.v1.Lease;
import io.vfiobroker.api.v1.LeasesGrpc;
import io.vfiobroker.api.v1.ListLeasesRequest;
import io.vfiobroker.api.v1.ReleaseRequest;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Posix;
import io.vfiobroker.nativeshim.ReceivedMessage;
import io.vfiobroker.nativeshim.SocketType;
import io.vfiobroker.nativeshim.UnixSockets;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Acquires devices from the vfio-broker daemon: a gRPC call on api.sock for the lease and ticket, then the fd
 * socket for the fds (SCM_RIGHTS). The daemon identifies this process by SO_PEERCRED on both sockets.
 */
public final class VfioBrokerClient implements AutoCloseable {

    public static final Path DEFAULT_RUN_DIR = Path.of("/run/vfio-broker");
    /** Set by the device plugin in broker-mode pods: the daemon's api.sock as the container sees it. */
    public static final String SOCKET_ENV = "VFIO_BROKER_SOCKET";
    /** Set by the device plugin in broker-mode pods: the allocation token to acquire with. */
    public static final String ALLOCATION_ENV = "VFIO_BROKER_ALLOCATION";
    private static final int FD_WAIT_MS = 10_000;
    // The largest bundle (16 devices, their groups and container, every region described) is about 6 KiB; a
    // bigger message fails with EMSGSIZE rather than being cut. Not 64 KiB: the buffer is copied in and out per call.
    private static final int MAX_BUNDLE = 32 << 10;

    private final EventLoopGroup group;
    private final ManagedChannel channel;
    private final LeasesGrpc.LeasesBlockingStub leases;
    private final Path apiSocket;
    private volatile String allocation;

    private VfioBrokerClient(Path apiSocket) {
        this.apiSocket = apiSocket;
        this.group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        this.channel = UnixChannels.builder(apiSocket).eventLoopGroup(group).build();
        this.leases = LeasesGrpc.newBlockingStub(channel);
    }

    /** Connects to {@code runDir}/api.sock (default /run/vfio-broker). */
    public static VfioBrokerClient connect(Path runDir) {
        return new VfioBrokerClient(runDir.resolve("api.sock"));
    }

    /** Connects to the api socket at {@code apiSocket}. */
    public static VfioBrokerClient connectSocket(Path apiSocket) {
        return new VfioBrokerClient(apiSocket);
    }

    /**
     * As a broker-mode pod does: the socket from {@value #SOCKET_ENV} (else /run/vfio-broker/api.sock) and the
     * allocation token from {@value #ALLOCATION_ENV}, when set.
     */
    public static VfioBrokerClient fromEnvironment() {
        String sock = System.getenv(SOCKET_ENV);
        VfioBrokerClient c = connectSocket(sock == null || sock.isBlank() ? DEFAULT_RUN_DIR.resolve("api.sock") : Path.of(sock));
        return c.withAllocation(System.getenv(ALLOCATION_ENV));
    }

    /** Acquires under this allocation token from now on (null or empty: none). */
    public VfioBrokerClient withAllocation(String token) {
        this.allocation = token == null || token.isBlank() ? null : token.strip();
        return this;
    }

    public String allocation() {
        return allocation;
    }

    /**
     * Acquires {@code devices} and collects their fds; closing the result releases the lease. Under an allocation,
     * an empty list means all of its devices.
     */
    public AcquiredDevices acquire(List<String> devices, Backend backend, long memlockBytes) {
        AcquireRequest.Builder req = AcquireRequest.newBuilder().addAllDevices(devices).setBackend(backend).setMemlockBytes(memlockBytes);
        String token = allocation;
        if (token != null) req.setAllocation(token);
        AcquireResponse r = leases.withDeadlineAfter(60, TimeUnit.SECONDS).acquire(req.build());
        try {
            return redeem(r);
        } catch (RuntimeException e) {
            try {
                release(r.getLease().getId());
            } catch (RuntimeException ignored) {
                // the daemon ends an unredeemed lease when its ticket expires anyway
            }
            throw e;
        }
    }

    /** Step two alone: present {@code response}'s ticket on its fd socket and receive the fds. */
    public AcquiredDevices redeem(AcquireResponse response) {
        Path fdSocket = Path.of(response.getFdSocket());
        // In a pod the daemon's run directory is mounted elsewhere, maybe: fd.sock always sits next to api.sock.
        if (!Files.exists(fdSocket) && fdSocket.getFileName() != null) fdSocket = apiSocket.resolveSibling(fdSocket.getFileName());
        try (OwnedFd sock = UnixSockets.connect(fdSocket, SocketType.SEQPACKET)) {
            UnixSockets.sendFds(sock.fd(), response.getTicket().getBytes(StandardCharsets.US_ASCII));
            if (!Posix.awaitReadable(sock.fd(), FD_WAIT_MS)) {
                throw new BrokerException("the daemon sent no fds within " + FD_WAIT_MS + " ms");
            }
            ReceivedMessage m = UnixSockets.recvFds(sock.fd(), MAX_BUNDLE, UnixSockets.MAX_FDS);
            FdBundle bundle;
            try {
                bundle = FdBundle.parseFrom(m.payload());
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                m.close();
                throw new BrokerException("the daemon's fd message is not an FdBundle: " + e.getMessage());
            }
            if (!bundle.getError().isEmpty()) {
                m.close();
                throw new BrokerException("the daemon refused the ticket: " + bundle.getError());
            }
            if (bundle.getFdsCount() != m.fds().size()) {
                m.close();
                throw new BrokerException("the daemon described " + bundle.getFdsCount() + " fds but sent " + m.fds().size());
            }
            return new AcquiredDevices(this, response.getLease(), bundle, m.fds());
        }
    }

    public Lease release(String leaseId) {
        return leases.withDeadlineAfter(30, TimeUnit.SECONDS).release(ReleaseRequest.newBuilder().setLeaseId(leaseId).build());
    }

    public List<Lease> list() {
        return leases.withDeadlineAfter(10, TimeUnit.SECONDS).list(ListLeasesRequest.getDefaultInstance()).getLeasesList();
    }

    public LeasesGrpc.LeasesBlockingStub stub() {
        return leases;
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
