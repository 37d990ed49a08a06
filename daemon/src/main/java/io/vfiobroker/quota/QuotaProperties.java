package io.vfiobroker.quota;

import org.springframework.boot.context.properties.ConfigurationProperties;

import java.time.Duration;

/**
 * Per-uid caps under {@code vfio-broker.quota.*}. Admins (root, the admin group) have a reserve others can't use.
 *
 * @param fd      fd.sock connections: {@code ticket-timeout} (1s: a connection that sends no ticket in time is dropped),
 *                {@code per-uid} (8), {@code total} (256), {@code admin-reserve} (32), {@code workers} (4: threads that
 *                redeem tickets and send fds; connections themselves take no thread)
 * @param streams open Events.Watch, Accounting.WatchMemlock and SSE /api/v1/events streams together: {@code per-uid} (8),
 *                {@code total} (64), {@code admin-reserve} (8)
 * @param acquire Acquire calls per uid (token bucket, root exempt): {@code per-second} (5), {@code burst} (20)
 */
@ConfigurationProperties("vfio-broker.quota")
public record QuotaProperties(Fd fd, Streams streams, Acquire acquire) {

    public record Fd(Duration ticketTimeout, Integer perUid, Integer total, Integer adminReserve, Integer workers) {
        public Fd {
            if (ticketTimeout == null) ticketTimeout = Duration.ofSeconds(1);
            if (perUid == null) perUid = 8;
            if (total == null) total = 256;
            if (adminReserve == null) adminReserve = 32;
            if (workers == null) workers = 4;
        }
    }

    public record Streams(Integer perUid, Integer total, Integer adminReserve) {
        public Streams {
            if (perUid == null) perUid = 8;
            if (total == null) total = 64;
            if (adminReserve == null) adminReserve = 8;
        }
    }

    public record Acquire(Double perSecond, Integer burst) {
        public Acquire {
            if (perSecond == null) perSecond = 5.0;
            if (burst == null) burst = 20;
        }
    }

    public QuotaProperties {
        if (fd == null) fd = new Fd(null, null, null, null, null);
        if (streams == null) streams = new Streams(null, null, null);
        if (acquire == null) acquire = new Acquire(null, null);
    }

    public static QuotaProperties defaults() {
        return new QuotaProperties(null, null, null);
    }
}
