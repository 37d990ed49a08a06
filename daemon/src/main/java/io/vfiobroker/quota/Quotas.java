package io.vfiobroker.quota;

/**
 * The daemon's per-uid quotas in one place: open streams (gRPC Watch/WatchMemlock and SSE share one count),
 * fd.sock connections, and the Acquire rate.
 */
public final class Quotas {
    private final QuotaProperties settings;
    private final UidQuota streams;
    private final UidQuota fdConnections;
    private final RateLimiter acquire;

    public Quotas(QuotaProperties p) {
        this.settings = p;
        this.streams = new UidQuota("event streams", "vfio-broker.quota.streams", p.streams().perUid(), p.streams().total(),
                p.streams().adminReserve());
        this.fdConnections = new UidQuota("fd.sock connections", "vfio-broker.quota.fd", p.fd().perUid(), p.fd().total(),
                p.fd().adminReserve());
        this.acquire = new RateLimiter("vfio-broker.quota.acquire", p.acquire().perSecond(), p.acquire().burst());
    }

    public static Quotas defaults() {
        return new Quotas(QuotaProperties.defaults());
    }

    public QuotaProperties settings() {
        return settings;
    }

    public UidQuota streams() {
        return streams;
    }

    public UidQuota fdConnections() {
        return fdConnections;
    }

    public RateLimiter acquire() {
        return acquire;
    }
}
