package io.vfiobroker.lease;

import io.vfiobroker.nativeshim.EventFd;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.Pidfd;
import io.vfiobroker.nativeshim.Posix;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * Tells when client processes exit: one thread polls every lease's pidfd (no /proc polling, no signals),
 * woken through an eventfd when the set changes.
 */
public final class ProcessWatch implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ProcessWatch.class);

    private final Map<String, Pidfd> watched = new ConcurrentHashMap<>();
    // Closed by the loop thread only, after poll returns: closing a pidfd the loop is polling would hand poll a
    // closed (or reused) fd number.
    private final java.util.Queue<Pidfd> retired = new java.util.concurrent.ConcurrentLinkedQueue<>();
    private final Consumer<String> onExit;
    private final EventFd wake = EventFd.create(0, LibcAbi.EFD_NONBLOCK);
    private final Thread thread;
    private volatile boolean running = true;

    /** {@code onExit} gets the key of a watched process that exited. */
    public ProcessWatch(Consumer<String> onExit) {
        this.onExit = onExit;
        this.thread = new Thread(this::loop, "process-watch");
        thread.setDaemon(true);
        thread.start();
    }

    /** Watches {@code pid} under {@code key}; if it is already gone, {@code onExit} runs right away. */
    public void watch(String key, long pid) {
        Pidfd p = Pidfd.open(pid);
        watched.put(key, p);
        wake.signal(1);
    }

    public void unwatch(String key) {
        Pidfd p = watched.remove(key);
        if (p != null) {
            retired.add(p);
            wake.signal(1);
        }
    }

    private void loop() {
        while (running) {
            try {
                round();
            } catch (RuntimeException e) {
                // Nothing may end this thread while leases depend on it.
                log.warn("event=process-watch-error error=\"{}\"", e.toString());
            }
        }
        for (Pidfd p; (p = retired.poll()) != null; ) p.close();
    }

    private void round() {
        for (Pidfd p; (p = retired.poll()) != null; ) p.close();
        List<Map.Entry<String, Pidfd>> snapshot = new ArrayList<>(watched.entrySet());
        int[] fds = new int[snapshot.size() + 1];
        fds[0] = wake.fd();
        for (int i = 0; i < snapshot.size(); i++) fds[i + 1] = snapshot.get(i).getValue().fd();
        short[] revents;
        try {
            revents = Posix.poll(fds, LibcAbi.POLLIN, -1);
        } catch (RuntimeException e) {
            if (!running) return;
            log.warn("event=process-watch-poll-failed error=\"{}\"", e.getMessage());
            return;
        }
        if (revents[0] != 0) {
            try {
                wake.read();
            } catch (RuntimeException ignored) {
                // EAGAIN: another wake-up already drained it
            }
        }
        for (int i = 0; i < snapshot.size(); i++) {
            if (revents[i + 1] == 0) continue;
            String key = snapshot.get(i).getKey();
            if (watched.remove(key, snapshot.get(i).getValue())) {
                retired.add(snapshot.get(i).getValue());
                try {
                    onExit.accept(key);
                } catch (RuntimeException e) {
                    log.warn("event=process-exit-handler-failed key={} error=\"{}\"", key, e.getMessage());
                }
            }
        }
    }

    @Override
    public void close() {
        running = false;
        wake.signal(1);
        try {
            thread.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        watched.values().forEach(Pidfd::close);
        watched.clear();
        wake.close();
    }
}
