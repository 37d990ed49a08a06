package io.vfiobroker.broker;

import io.vfiobroker.api.v1.FdBundle;
import io.vfiobroker.api.v1.FdInfo;
import io.vfiobroker.api.v1.Region;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.LeaseException;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.PeerCredentials;
import io.vfiobroker.nativeshim.Posix;
import io.vfiobroker.nativeshim.ReceivedMessage;
import io.vfiobroker.nativeshim.SocketType;
import io.vfiobroker.nativeshim.UnixSockets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fd socket: a client connects (SOCK_SEQPACKET), sends its ticket as one message, and gets one message
 * back: an {@link FdBundle} describing the fds attached with SCM_RIGHTS, or an error. The presenter is
 * identified by SO_PEERCRED on this socket, independently of the gRPC call that obtained the ticket.
 */
public final class FdSocketServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(FdSocketServer.class);
    private static final int MAX_TICKET = 256;
    private static final int READ_TIMEOUT_MS = 5000;

    private final Path path;
    private final LeaseService leases;
    // Threads blocked in accept(2) on the one listener: the kernel hands each connection to exactly one of them,
    // which serves it start to end, so a lease's fds cost no thread hand-off. This many slow clients at once
    // (each at most READ_TIMEOUT_MS) make the next one wait.
    private static final int WORKERS = 4;

    private final OwnedFd listener;
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean running = true;

    public FdSocketServer(Path path, LeaseService leases) throws IOException {
        this(path, leases, null);
    }

    public FdSocketServer(Path path, LeaseService leases, String socketGroup) throws IOException {
        this.path = path;
        this.leases = leases;
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path);
        this.listener = UnixSockets.listen(path, SocketType.SEQPACKET, 64);
        SocketAccess.apply(path, socketGroup);
        for (int i = 0; i < WORKERS; i++) {
            Thread t = new Thread(this::acceptLoop, "fd-socket-" + i);
            t.setDaemon(true);
            t.start();
            workers.add(t);
        }
        log.info("event=fd-socket-listening path={}", path);
    }

    public Path path() {
        return path;
    }

    private void acceptLoop() {
        while (running) {
            OwnedFd conn;
            try {
                conn = UnixSockets.accept(listener.fd());
            } catch (NativeException e) {
                if (!running) return; // close() shut the listener down: accept fails with EINVAL
                log.warn("event=fd-socket-accept-failed error=\"{}\"", e.getMessage());
                pause(); // EMFILE and the like: do not spin
                continue;
            }
            serve(conn);
        }
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void serve(OwnedFd conn) {
        try (conn) {
            PeerCredentials cred = UnixSockets.peerCred(conn.fd());
            Caller presenter = new Caller(cred.pid(), cred.uid(), cred.gid());
            if (!Posix.awaitReadable(conn.fd(), READ_TIMEOUT_MS)) {
                reply(conn, FdBundle.newBuilder().setError("no ticket within " + READ_TIMEOUT_MS + " ms").build(), new int[0]);
                return;
            }
            String ticket;
            try (ReceivedMessage m = UnixSockets.recvFds(conn.fd(), MAX_TICKET, 0)) {
                ticket = new String(m.payload(), StandardCharsets.US_ASCII).strip();
            }
            try (LeaseService.Handover h = leases.redeem(ticket, presenter)) {
                FdBundle.Builder b = FdBundle.newBuilder().setLeaseId(h.lease().id());
                int[] fds = new int[h.fds().size()];
                for (int i = 0; i < fds.length; i++) {
                    HandoverFd f = h.fds().get(i);
                    fds[i] = f.fd().fd();
                    FdInfo.Builder info = FdInfo.newBuilder().setKind(kind(f.kind())).setIommuGroup(f.group()).setIoasId(Math.max(0, f.ioasId()));
                    if (f.device() != null) info.setDevice(f.device());
                    for (HandoverFd.Region r : f.regions()) {
                        info.addRegions(Region.newBuilder().setIndex(r.index()).setFlags(r.flags()).setSize(r.size()).setOffset(r.offset()));
                    }
                    b.addFds(info);
                }
                reply(conn, b.build(), fds);
                // The audit trail has it (fds-handed-over); at INFO it would be a third log line per lease.
                log.debug("event=fds-sent lease={} uid={} pid={} fds={}", h.lease().id(), presenter.uid(), presenter.pid(), fds.length);
            } catch (LeaseException e) {
                reply(conn, FdBundle.newBuilder().setError(e.getMessage()).build(), new int[0]);
                log.warn("event=ticket-refused uid={} pid={} reason=\"{}\"", presenter.uid(), presenter.pid(), e.getMessage());
            }
        } catch (NativeException | IllegalArgumentException e) {
            log.warn("event=fd-socket-client-failed error=\"{}\"", e.getMessage());
        }
    }

    private static void reply(OwnedFd conn, FdBundle bundle, int[] fds) {
        byte[] bytes = bundle.toByteArray();
        UnixSockets.sendFds(conn.fd(), bytes.length == 0 ? new byte[]{0} : bytes, fds); // SCM_RIGHTS needs a byte of data
    }

    private static FdInfo.Kind kind(HandoverFd.Kind k) {
        return switch (k) {
            case CONTAINER -> FdInfo.Kind.KIND_CONTAINER;
            case GROUP -> FdInfo.Kind.KIND_GROUP;
            case DEVICE -> FdInfo.Kind.KIND_DEVICE;
            case IOMMUFD -> FdInfo.Kind.KIND_IOMMUFD;
        };
    }

    @Override
    public void close() {
        running = false;
        try {
            UnixSockets.shutdown(listener.fd(), LibcAbi.SHUT_RDWR); // wakes the threads blocked in accept
        } catch (NativeException e) {
            log.warn("event=fd-socket-shutdown-failed error=\"{}\"", e.getMessage());
        }
        for (Thread t : workers) {
            try {
                t.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        listener.close();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // the runtime directory goes away with the service anyway
        }
    }
}
