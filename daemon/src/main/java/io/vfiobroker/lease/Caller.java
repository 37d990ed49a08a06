package io.vfiobroker.lease;

/** Who is asking, as the kernel says (SO_PEERCRED), never as the request claims. */
public record Caller(int pid, int uid, int gid) {
    public boolean isRoot() {
        return uid == 0;
    }

    @Override
    public String toString() {
        return "uid " + uid + " (pid " + pid + ")";
    }
}
