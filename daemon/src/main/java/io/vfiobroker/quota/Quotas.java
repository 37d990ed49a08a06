package io.vfiobroker.quota;

/**
 * The daemon's per-uid quotas in one place: open streams (gRPC Watch/WatchMemlock and SSE share one count),
 * fd.sock connections, and the Acquire rate.
 */
public record Quotas(QuotaProperties settings, UidQuota streams, UidQuota fdConnections, RateLimiter acquire) {

    public Quotas(QuotaProperties p) {
        this(p, new UidQuota("event streams", "vfio-broker.quota.streams", p.streams().perUid(), p.streams().total(),
                        p.streams().adminReserve()),
                new UidQuota("fd.sock connections", "vfio-broker.quota.fd", p.fd().perUid(), p.fd().total(), p.fd().adminReserve()),
                new RateLimiter("vfio-broker.quota.acquire", p.acquire().perSecond(), p.acquire().burst()));
    }

    public static Quotas defaults() {
        return new Quotas(QuotaProperties.defaults());
    }
}
