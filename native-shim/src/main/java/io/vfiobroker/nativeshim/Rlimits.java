package io.vfiobroker.nativeshim;

import com.sun.jna.ptr.LongByReference;

/** prlimit(2) on any process: the memlock limit the daemon gives a lease's client. */
public final class Rlimits {
    /** "No limit" as prlimit reports it. */
    public static final long INFINITY = LibcAbi.RLIM_INFINITY;

    private Rlimits() {
    }

    /** A soft/hard limit pair in bytes; {@link #INFINITY} means unlimited. */
    public record Rlimit(long soft, long hard) {
    }

    /** Reads a limit of {@code pid} (0 = this process). */
    public static Rlimit get(long pid, int resource) {
        LongByReference cur = new LongByReference();
        LongByReference max = new LongByReference();
        NativeException.check(Shim.vb_prlimit_get((int) pid, resource, cur, max), "prlimit", "pid " + pid);
        return new Rlimit(cur.getValue(), max.getValue());
    }

    /** Sets a limit of {@code pid}; raising the hard limit needs CAP_SYS_RESOURCE. */
    public static void set(long pid, int resource, Rlimit limit) {
        NativeException.check(Shim.vb_prlimit_set((int) pid, resource, limit.soft(), limit.hard()), "prlimit",
                "pid " + pid + ", resource " + resource);
    }

    /** RLIMIT_MEMLOCK of {@code pid}. */
    public static Rlimit getMemlock(long pid) {
        return get(pid, LibcAbi.RLIMIT_MEMLOCK);
    }

    /** Sets RLIMIT_MEMLOCK of {@code pid}, which type1 DMA mapping and per-process iommufd charge. */
    public static void setMemlock(long pid, Rlimit limit) {
        set(pid, LibcAbi.RLIMIT_MEMLOCK, limit);
    }
}
