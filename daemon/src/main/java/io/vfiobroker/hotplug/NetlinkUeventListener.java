package io.vfiobroker.hotplug;

import io.vfiobroker.concurrent.Daemons;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.Uevent;
import io.vfiobroker.nativeshim.UeventSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Reads the kernel's NETLINK_KOBJECT_UEVENT multicast group on one thread and hands each uevent to a handler.
 * Only for the real root "/": a generated host tree has no kernel behind it.
 */
public final class NetlinkUeventListener implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NetlinkUeventListener.class);

    private final UeventSocket socket;
    private final Thread thread;
    private volatile boolean closed;

    public NetlinkUeventListener(Consumer<Uevent> handler) {
        this.socket = UeventSocket.open();
        this.thread = Daemons.start("uevent-listener", () -> run(handler));
        log.info("event=uevent-listening");
    }

    private void run(Consumer<Uevent> handler) {
        while (!closed) {
            Optional<Uevent> ev;
            try {
                // A short wait so close() is noticed without signalling the thread.
                ev = socket.receive(Duration.ofMillis(500));
            } catch (NativeException e) {
                if (closed) return;
                // ENOBUFS: the kernel dropped uevents because we were slow; the next ones still come.
                log.warn("event=uevent-receive-failed error=\"{}\"", e.getMessage());
                continue;
            }
            if (ev.isEmpty()) continue;
            try {
                handler.accept(ev.get());
            } catch (RuntimeException e) {
                log.warn("event=uevent-handling-failed action={} devpath={} error=\"{}\"", ev.get().action(), ev.get().devpath(), e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        Daemons.join(thread, Duration.ofSeconds(2));
        socket.close();
    }
}
