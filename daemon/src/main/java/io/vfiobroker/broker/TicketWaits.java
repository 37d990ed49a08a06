package io.vfiobroker.broker;

import io.vfiobroker.lease.Caller;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.quota.UidQuota;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** fd.sock connections waiting for their ticket, by epoll token and by deadline. Touched only by the loop thread. */
final class TicketWaits {

    /** A connection waiting for its ticket. Touched only by the loop thread until handed to a worker. */
    static final class Conn {
        final long id;
        final OwnedFd fd;
        final Caller caller;
        final UidQuota.Slot slot;
        final long deadline;
        boolean gone;

        Conn(long id, OwnedFd fd, Caller caller, UidQuota.Slot slot, long deadline) {
            this.id = id;
            this.fd = fd;
            this.caller = caller;
            this.slot = slot;
            this.deadline = deadline;
        }
    }

    private final Map<Long, Conn> waiting = new HashMap<>();
    private final ArrayDeque<Conn> byDeadline = new ArrayDeque<>(); // accept order = deadline order (one timeout)
    private final Duration timeout;
    private long nextId;

    TicketWaits(Duration timeout) {
        this.timeout = timeout;
    }

    /** A new connection, its deadline the timeout from now; not tracked until {@link #track}. */
    Conn open(OwnedFd fd, Caller caller, UidQuota.Slot slot) {
        return new Conn(++nextId, fd, caller, slot, System.nanoTime() + timeout.toNanos());
    }

    void track(Conn c) {
        waiting.put(c.id, c);
        byDeadline.addLast(c);
    }

    Conn get(long id) {
        return waiting.get(id);
    }

    /** Stops tracking {@code c}: from here on it belongs to whoever finishes it. */
    void forget(Conn c) {
        c.gone = true;
        waiting.remove(c.id);
    }

    /** Milliseconds until the next deadline, at most a second. */
    int nextTimeoutMs() {
        while (!byDeadline.isEmpty() && byDeadline.peekFirst().gone) byDeadline.pollFirst();
        if (byDeadline.isEmpty()) return 1000;
        long left = byDeadline.peekFirst().deadline - System.nanoTime();
        return (int) Math.max(0, Math.min(1000, (left + 999_999) / 1_000_000));
    }

    /** The tracked connections whose deadline has passed, oldest first; still tracked, for the caller to forget. */
    List<Conn> expired() {
        long now = System.nanoTime();
        List<Conn> out = new ArrayList<>();
        while (!byDeadline.isEmpty()) {
            Conn c = byDeadline.peekFirst();
            if (c.gone) {
                byDeadline.pollFirst();
                continue;
            }
            if (c.deadline - now > 0) break;
            out.add(byDeadline.pollFirst());
        }
        return out;
    }

    /** Every tracked connection, tracked no longer. */
    List<Conn> drain() {
        List<Conn> all = new ArrayList<>(waiting.values());
        waiting.clear();
        byDeadline.clear();
        return all;
    }
}
