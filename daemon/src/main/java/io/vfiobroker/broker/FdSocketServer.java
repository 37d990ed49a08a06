package io.vfiobroker.broker;

import io.vfiobroker.api.v1.FdBundle;
import io.vfiobroker.authz.SocketAccess;
import io.vfiobroker.concurrent.Daemons;
import io.vfiobroker.broker.TicketWaits.Conn;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.LeaseException;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.nativeshim.Epoll;
import io.vfiobroker.nativeshim.Errno;
import io.vfiobroker.nativeshim.EventFd;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.ReceivedMessage;
import io.vfiobroker.nativeshim.SocketType;
import io.vfiobroker.nativeshim.UnixSockets;
import io.vfiobroker.quota.QuotaExceededException;
import io.vfiobroker.quota.QuotaProperties;
import io.vfiobroker.quota.UidQuota;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * The fd socket: a client connects (SOCK_SEQPACKET), sends its ticket as one message, and gets one message
 * back: an {@link FdBundle} describing the fds attached with SCM_RIGHTS, or an error. The presenter is
 * identified by SO_PEERCRED on this socket, independently of the gRPC call that obtained the ticket.
 *
 * <p>One thread waits in epoll on the listener and every connection that has not sent its ticket yet, all
 * non-blocking, so an idle connection costs an fd and a map entry, never a thread. A connection that sends no
 * ticket within the ticket timeout (1 s) is dropped; each uid may hold a few connections, and admins (uid 0, the
 * admin group) a reserve nobody else can take. A received ticket goes to a small pool that redeems it and sends
 * the fds; sends are non-blocking too, so a peer that never reads can't hold a worker.
 */
public final class FdSocketServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(FdSocketServer.class);
    private static final int MAX_TICKET = 256;
    private static final long LISTENER = -1;
    private static final long WAKE = -2;

    private final Path path;
    private final LeaseService leases;
    private final Duration ticketTimeout;
    private final UidQuota quota;
    private final Predicate<Caller> admin;
    private final OwnedFd listener;
    private final Epoll epoll;
    private final EventFd wake;
    private final TicketWaits waiting;
    private final ThreadPoolExecutor workers;
    private final Thread loop;
    private final AtomicLong dropped = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private long lastRefusalLog;
    private volatile boolean running = true;

    public FdSocketServer(Path path, LeaseService leases) throws IOException {
        this(path, leases, null);
    }

    public FdSocketServer(Path path, LeaseService leases, String socketGroup) throws IOException {
        this(path, leases, socketGroup, QuotaProperties.defaults().fd(), null, c -> c.uid() == 0);
    }

    /**
     * @param quota fd.sock connections per uid (null: a private one from {@code settings})
     * @param admin who may use the admin reserve (uid 0 at least)
     */
    public FdSocketServer(Path path, LeaseService leases, String socketGroup, QuotaProperties.Fd settings, UidQuota quota,
                          Predicate<Caller> admin) throws IOException {
        this.path = path;
        this.leases = leases;
        this.ticketTimeout = settings.ticketTimeout();
        this.waiting = new TicketWaits(ticketTimeout);
        this.quota = quota != null ? quota
                : new UidQuota("fd.sock connections", "vfio-broker.quota.fd", settings.perUid(), settings.total(), settings.adminReserve());
        this.admin = c -> c.uid() == 0 || safeTest(admin, c);
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path);
        this.listener = UnixSockets.listen(path, SocketType.SEQPACKET, 128);
        UnixSockets.setNonBlocking(listener.fd(), true);
        SocketAccess.apply(path, socketGroup);
        this.epoll = Epoll.create();
        this.wake = EventFd.create(0, LibcAbi.EFD_NONBLOCK);
        epoll.add(listener.fd(), LibcAbi.EPOLLIN, LISTENER);
        epoll.add(wake.fd(), LibcAbi.EPOLLIN, WAKE);
        // Each connection submits at most one task and connections are capped, so the queue is bounded by the quota.
        this.workers = new ThreadPoolExecutor(settings.workers(), settings.workers(), 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(),
                Daemons.numbered("fd-socket-worker"));
        this.loop = Daemons.start("fd-socket-loop", this::loop);
        log.info("event=fd-socket-listening path={} ticket-timeout={}ms per-uid={} total={} admin-reserve={}", path, ticketTimeout.toMillis(),
                this.quota.perUid(), this.quota.total(), this.quota.adminReserve());
    }

    private static boolean safeTest(Predicate<Caller> p, Caller c) {
        try {
            return p != null && p.test(c);
        } catch (RuntimeException e) {
            return false;
        }
    }

    public Path path() {
        return path;
    }

    /**
     * What fd.sock has seen, read at once.
     *
     * @param openConnections  connections open right now: waiting for a ticket or being served
     * @param droppedIdle      connections dropped for sending no ticket in time
     * @param refusedOverQuota connections refused at accept for being over a quota
     */
    public record Stats(int openConnections, long droppedIdle, long refusedOverQuota) {
    }

    public Stats stats() {
        return new Stats(quota.openTotal(), dropped.get(), refused.get());
    }

    private void loop() {
        while (running) {
            try {
                Epoll.Ready r = epoll.await(64, waiting.nextTimeoutMs());
                for (int i = 0; i < r.count() && running; i++) {
                    long token = r.tokens()[i];
                    if (token == LISTENER) acceptPending();
                    else if (token == WAKE) drainWake();
                    else readable(waiting.get(token));
                }
                expire();
            } catch (Throwable t) {
                // Nothing may end the loop: a dead loop is a dead fd.sock.
                failures.incrementAndGet();
                log.error("event=fd-socket-loop-error error=\"{}\"", t.toString(), t);
                pause();
            }
        }
    }

    private void drainWake() {
        try {
            wake.read();
        } catch (NativeException e) {
            // EAGAIN: another wake-up took it
        }
    }

    private void acceptPending() {
        for (int i = 0; i < 256; i++) { // then let the connections already waiting have their turn
            OwnedFd fd;
            try {
                fd = UnixSockets.acceptNonBlocking(listener.fd());
            } catch (NativeException e) {
                if (e.errno() == Errno.EMFILE || e.errno() == Errno.ENFILE) {
                    log.warn("event=fd-socket-accept-failed error=\"{}\"", e.getMessage());
                    pause(); // the listener stays readable: don't spin
                    return;
                }
                log.warn("event=fd-socket-accept-failed error=\"{}\"", e.getMessage());
                return;
            }
            if (fd == null) return;
            admit(fd);
        }
    }

    private void admit(OwnedFd fd) {
        Caller caller;
        UidQuota.Slot slot;
        try {
            caller = FdPeers.caller(fd);
            slot = quota.take(caller.uid(), admin.test(caller));
        } catch (QuotaExceededException e) {
            refused.incrementAndGet();
            logRefusal(e.getMessage());
            FdPeers.error(fd, e.getMessage());
            FdPeers.closeQuietly(fd);
            return;
        } catch (RuntimeException e) {
            log.warn("event=fd-socket-client-failed error=\"{}\"", e.getMessage());
            FdPeers.closeQuietly(fd);
            return;
        }
        Conn c = waiting.open(fd, caller, slot);
        try {
            epoll.add(fd.fd(), LibcAbi.EPOLLIN, c.id);
        } catch (RuntimeException e) {
            finish(c);
            throw e;
        }
        waiting.track(c);
    }

    private void logRefusal(String why) {
        long now = System.nanoTime();
        // One line per second at most: the refusals themselves are what an attacker would flood the log with.
        if (now - lastRefusalLog > 1_000_000_000L) {
            lastRefusalLog = now;
            log.warn("event=fd-socket-refused reason=\"{}\" refused-so-far={}", why, refused.get());
        }
    }

    private void readable(Conn c) {
        if (c == null || c.gone) return;
        String ticket;
        try (ReceivedMessage m = UnixSockets.recvFds(c.fd.fd(), MAX_TICKET, 0)) {
            if (m.endOfStream()) {
                unregister(c);
                finish(c);
                return;
            }
            ticket = new String(m.payload(), StandardCharsets.US_ASCII).strip();
        } catch (NativeException e) {
            if (e.errno() == Errno.EAGAIN) return; // woken with nothing to read: keep waiting
            unregister(c);
            // EMSGSIZE: over MAX_TICKET bytes, or fds attached (the shim closed them)
            if (e.errno() == Errno.EMSGSIZE) FdPeers.error(c.fd, "a ticket is one message of at most "
                    + MAX_TICKET + " bytes and no fds");
            log.debug("event=fd-socket-client-failed uid={} error=\"{}\"", c.caller.uid(), e.getMessage());
            finish(c);
            return;
        }
        unregister(c);
        try {
            workers.execute(() -> redeem(c, ticket));
        } catch (RejectedExecutionException e) {
            finish(c); // shutting down
        }
    }

    /** Stops watching {@code c}: from here on it belongs to whoever finishes it. */
    private void unregister(Conn c) {
        waiting.forget(c);
        try {
            epoll.remove(c.fd.fd());
        } catch (RuntimeException e) {
            // already gone from the set (closed)
        }
    }

    private void expire() {
        for (Conn c : waiting.expired()) {
            unregister(c);
            dropped.incrementAndGet();
            FdPeers.error(c.fd, "no ticket within " + ticketTimeout.toMillis() + " ms");
            finish(c);
        }
    }

    private void redeem(Conn c, String ticket) {
        try {
            LeaseService.Handover h;
            try {
                h = leases.redeem(ticket, c.caller);
            } catch (LeaseException e) {
                FdPeers.error(c.fd, e.getMessage());
                log.debug("event=ticket-refused uid={} pid={} reason=\"{}\"", c.caller.uid(), c.caller.pid(), e.getMessage());
                return;
            }
            try {
                int fds = FdPeers.handover(c.fd, h);
                // The audit trail has it (fds-handed-over); at INFO it would be a third log line per lease.
                log.debug("event=fds-sent lease={} uid={} pid={} fds={}", h.lease().id(), c.caller.uid(), c.caller.pid(), fds);
            } finally {
                h.close();
            }
        } catch (Throwable t) {
            // Per connection: a failed redeem or send ends this connection, never the worker.
            failures.incrementAndGet();
            log.warn("event=fd-socket-client-failed uid={} pid={} error=\"{}\"", c.caller.uid(), c.caller.pid(), t.toString());
        } finally {
            finish(c);
        }
    }

    private static void finish(Conn c) {
        FdPeers.closeQuietly(c.fd);
        c.slot.close();
    }

    private static void pause() {
        try {
            Thread.sleep(100);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            wake.signal(1);
        } catch (RuntimeException e) {
            log.warn("event=fd-socket-shutdown-failed error=\"{}\"", e.getMessage());
        }
        Daemons.join(loop, Duration.ofSeconds(2));
        Daemons.stop(workers, Duration.ofSeconds(2));
        for (Conn c : waiting.drain()) finish(c);
        epoll.close();
        wake.close();
        listener.close();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // the runtime directory goes away with the service anyway
        }
    }
}
