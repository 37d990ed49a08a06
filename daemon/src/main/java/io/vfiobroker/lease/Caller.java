package io.vfiobroker.lease;

import java.util.List;

/**
 * Who is asking, as the kernel says (SO_PEERCRED), never as the request claims. {@code groups} are the
 * supplementary groups the kernel reported with the connection (SO_PEERGROUPS), or null when it did not.
 * {@code startTime} is the connecting process's start time (clock ticks since boot), read while a pidfd from
 * SO_PEERPIDFD showed it alive where the kernel has one, so a pid reused later is told apart; -1 when unknown.
 */
public record Caller(int pid, int uid, int gid, List<Integer> groups, long startTime) {

    public Caller {
        groups = groups == null ? null : List.copyOf(groups);
    }

    public Caller(int pid, int uid, int gid, List<Integer> groups) {
        this(pid, uid, gid, groups, -1);
    }

    public Caller(int pid, int uid, int gid) {
        this(pid, uid, gid, null, -1);
    }

    public boolean isRoot() {
        return uid == 0;
    }

    @Override
    public String toString() {
        return "uid " + uid + " (pid " + pid + ")";
    }
}
