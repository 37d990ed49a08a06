package io.vfiobroker.lease;

import java.util.List;

/**
 * Who is asking, as the kernel says (SO_PEERCRED), never as the request claims. {@code groups} are the
 * supplementary groups the kernel reported with the connection (SO_PEERGROUPS), or null when it did not.
 */
public record Caller(int pid, int uid, int gid, List<Integer> groups) {

    public Caller {
        groups = groups == null ? null : List.copyOf(groups);
    }

    public Caller(int pid, int uid, int gid) {
        this(pid, uid, gid, null);
    }

    public boolean isRoot() {
        return uid == 0;
    }

    @Override
    public String toString() {
        return "uid " + uid + " (pid " + pid + ")";
    }
}
