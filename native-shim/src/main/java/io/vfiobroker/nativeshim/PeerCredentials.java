package io.vfiobroker.nativeshim;

/** SO_PEERCRED: the peer's pid, uid and gid as the kernel recorded them at connect time. */
public record PeerCredentials(int pid, int uid, int gid) {
}
