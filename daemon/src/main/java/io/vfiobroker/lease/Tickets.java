package io.vfiobroker.lease;

import io.vfiobroker.concurrent.Daemons;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One-time tickets: 32 random bytes that let the lease holder's uid collect the fds on the fd socket once, before expiry. */
final class Tickets implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Tickets.class);

    record Ticket(String leaseId, Instant expires) {
    }

    private final Map<String, Ticket> byValue = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final Duration ttl;
    private final ScheduledThreadPoolExecutor sweeper = new ScheduledThreadPoolExecutor(1, Daemons.named("lease-tickets"));

    /** {@code onExpired} gets the lease of each ticket that expired unredeemed. */
    Tickets(Duration ttl, Consumer<String> onExpired) {
        this.ttl = ttl;
        // One sweep for all tickets rather than a timer each: take() checks the expiry exactly, and an unredeemed lease
        // ends at most a sweep period after its ticket expired.
        long sweepMs = Math.max(10, Math.min(1000, ttl.toMillis() / 4));
        sweeper.scheduleWithFixedDelay(() -> {
            for (String id : expired()) {
                try {
                    onExpired.accept(id);
                } catch (RuntimeException x) {
                    // A periodic task that throws never runs again.
                    log.warn("event=ticket-expiry-failed lease={} error=\"{}\"", id, x.getMessage());
                }
            }
        }, sweepMs, sweepMs, TimeUnit.MILLISECONDS);
    }

    Duration ttl() {
        return ttl;
    }

    String issue(String leaseId) {
        byte[] b = new byte[32];
        random.nextBytes(b);
        String t = Base64.getUrlEncoder().withoutPadding().encodeToString(b);
        byValue.put(t, new Ticket(leaseId, Instant.now().plus(ttl)));
        return t;
    }

    /** Takes the ticket out (one use), or null when it is unknown, used or expired. */
    Ticket take(String ticket) {
        Ticket t = ticket == null ? null : byValue.remove(ticket);
        return t == null || Instant.now().isAfter(t.expires()) ? null : t;
    }

    void dropFor(String leaseId) {
        byValue.values().removeIf(t -> t.leaseId().equals(leaseId));
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
    }

    /** Removes and answers the leases whose tickets expired unredeemed. */
    List<String> expired() {
        Instant now = Instant.now();
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, Ticket> e : byValue.entrySet()) {
            if (now.isAfter(e.getValue().expires()) && byValue.remove(e.getKey(), e.getValue())) out.add(e.getValue().leaseId());
        }
        return out;
    }
}
