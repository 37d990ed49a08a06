package io.vfiobroker.quota;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A token bucket per uid: {@code burst} calls at once, refilled at {@code perSecond}. uid 0 is never limited, so
 * no crowd of users can lock root out. Buckets that have refilled completely are forgotten, so the map holds
 * only uids that called recently.
 */
public final class RateLimiter {

    private static final class Bucket {
        double tokens;
        long at;
    }

    private final String property;
    private final double perSecond;
    private final int burst;
    private final LongSupplier nanoTime;
    private final Map<Integer, Bucket> buckets = new HashMap<>();
    private long lastPrune;

    public RateLimiter(String property, double perSecond, int burst) {
        this(property, perSecond, burst, System::nanoTime);
    }

    public RateLimiter(String property, double perSecond, int burst, LongSupplier nanoTime) {
        if (perSecond <= 0 || burst < 1) throw new IllegalArgumentException(property + ": rate and burst must be positive");
        this.property = property;
        this.perSecond = perSecond;
        this.burst = burst;
        this.nanoTime = nanoTime;
        this.lastPrune = nanoTime.getAsLong();
    }

    /** Takes one token for {@code uid}; false when its bucket is empty. */
    public synchronized boolean tryAcquire(int uid) {
        if (uid == 0) return true;
        long now = nanoTime.getAsLong();
        prune(now);
        Bucket b = buckets.computeIfAbsent(uid, k -> {
            Bucket n = new Bucket();
            n.tokens = burst;
            n.at = now;
            return n;
        });
        refill(b, now);
        if (b.tokens < 1) return false;
        b.tokens -= 1;
        return true;
    }

    /** Like {@link #tryAcquire} but throws {@link QuotaExceededException} naming the rate and the uid. */
    public void acquire(int uid) {
        if (!tryAcquire(uid)) {
            throw new QuotaExceededException("uid " + uid + " is over its rate of " + perSecond + "/s with a burst of " + burst + " ("
                    + property + ".per-second, " + property + ".burst); retry later");
        }
    }

    private void refill(Bucket b, long now) {
        b.tokens = Math.min(burst, b.tokens + (now - b.at) / 1e9 * perSecond);
        b.at = now;
    }

    private void prune(long now) {
        if (now - lastPrune < 10_000_000_000L) return;
        lastPrune = now;
        for (Iterator<Bucket> it = buckets.values().iterator(); it.hasNext(); ) {
            Bucket b = it.next();
            refill(b, now);
            if (b.tokens >= burst) it.remove();
        }
    }
}
