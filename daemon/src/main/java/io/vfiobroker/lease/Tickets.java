package io.vfiobroker.lease;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** One-time tickets: 32 random bytes that let the lease holder's uid collect the fds on the fd socket once, before expiry. */
final class Tickets {

    record Ticket(String leaseId, Instant expires) {
    }

    private final Map<String, Ticket> byValue = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final Duration ttl;

    Tickets(Duration ttl) {
        this.ttl = ttl;
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
