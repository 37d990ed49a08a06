package io.vfiobroker.policy;

import java.time.Duration;

/**
 * How leases are taken back. {@code revokeGrace}: between telling a client its lease ends (revoke, withdrawn grant,
 * replaced allocation, removed device) and killing the processes that still hold its fds. {@code onWithdrawnGrant}:
 * what a reload does to an active lease the new policy no longer grants.
 */
public record LeasePolicy(Duration revokeGrace, OnWithdrawnGrant onWithdrawnGrant) {

    public enum OnWithdrawnGrant { REVOKE, KEEP }

    public static final LeasePolicy DEFAULT = new LeasePolicy(Duration.ofSeconds(5), OnWithdrawnGrant.REVOKE);
}
