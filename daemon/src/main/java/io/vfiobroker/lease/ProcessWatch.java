package io.vfiobroker.lease;

import io.vfiobroker.concurrent.Daemons;
import io.vfiobroker.nativeshim.Epoll;
import io.vfiobroker.nativeshim.EventFd;
import io.vfiobroker.nativeshim.LibcAbi;
import io.vfiobroker.nativeshim.Pidfd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Tells when client processes exit: one thread waits on every lease's pidfd in an epoll set (no /proc polling,
 * no signals). Watching and unwatching change the set directly, without waking that thread.
 */
public final class ProcessWatch implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ProcessWatch.class);
    private static final long STOP = 0; // the token of the eventfd close() signals

    private record Watched(String key, Pidfd pidfd, long token) {
    }

    private final Map<String, Watched> byKey = new ConcurrentHashMap<>();
    private final Map<Long, Watched> byToken = new ConcurrentHashMap<>();
    private final AtomicLong tokens = new AtomicLong(STOP);
    private final Consumer<String> onExit;
    private final Epoll epoll = Epoll.create();
    private final EventFd stop = EventFd.create(0, LibcAbi.EFD_NONBLOCK);
    private final Thread thread;
    private volatile boolean running = true;

    /** {@code onExit} gets the key of a watched process that exited. */
    public ProcessWatch(Consumer<String> onExit) {
        this.onExit = onExit;
        epoll.add(stop.fd(), LibcAbi.EPOLLIN, STOP);
        this.thread = Daemons.start("process-watch", this::loop);
    }

    /** Watches {@code pid} under {@code key}; if it is already gone, {@code onExit} runs right away. */
    public void watch(String key, long pid) {
        Pidfd p = Pidfd.open(pid);
        Watched w = new Watched(key, p, tokens.incrementAndGet());
        Watched old = byKey.put(key, w);
        if (old != null) retire(old);
        byToken.put(w.token(), w);
        // An exited process's pidfd is readable at once: the loop reports it as soon as it is added.
        try {
            epoll.add(p.fd(), LibcAbi.EPOLLIN, w.token());
        } catch (RuntimeException e) {
            if (byKey.remove(key, w)) {
                byToken.remove(w.token(), w);
                p.close();
            }
            throw e;
        }
    }

    public void unwatch(String key) {
        Watched w = byKey.remove(key);
        if (w != null) retire(w);
    }

    /** Out of the set, then closed: the loop only ever sees tokens, so a closed or reused fd number cannot reach it. */
    private void retire(Watched w) {
        byToken.remove(w.token(), w);
        try {
            epoll.remove(w.pidfd().fd());
        } catch (RuntimeException e) {
            log.warn("event=process-watch-remove-failed key={} error=\"{}\"", w.key(), e.getMessage());
        }
        w.pidfd().close();
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
    }

    private void round() {
        Epoll.Ready ready = epoll.await(64, -1);
        for (int i = 0; i < ready.count(); i++) {
            long token = ready.tokens()[i];
            if (token == STOP) continue;
            Watched w = byToken.get(token);
            // Whoever removes it from byKey owns it: an unwatch racing with the exit wins or loses cleanly.
            if (w == null || !byKey.remove(w.key(), w)) continue;
            retire(w);
            try {
                onExit.accept(w.key());
            } catch (RuntimeException e) {
                log.warn("event=process-exit-handler-failed key={} error=\"{}\"", w.key(), e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        running = false;
        stop.signal(1);
        Daemons.join(thread, Duration.ofSeconds(2));
        byKey.values().forEach(w -> w.pidfd().close());
        byKey.clear();
        byToken.clear();
        epoll.close();
        stop.close();
    }
}
