package io.vfiobroker.nativeshim;

/**
 * A failed system call, named: {@code "VFIO_GROUP_SET_CONTAINER: EBUSY (group 7)"},
 * {@code "open /dev/vfio/vfio: ENOENT"}. The one exception type of this boundary.
 */
public final class NativeException extends RuntimeException {
    private final String call;
    private final int errno;
    private final String context;

    public NativeException(String call, int errno, String context) {
        super(call + ": " + Errno.name(errno) + (context == null || context.isEmpty() ? "" : " (" + context + ")"));
        this.call = call;
        this.errno = errno;
        this.context = context == null ? "" : context;
    }

    /** The call that failed, e.g. {@code "VFIO_SET_IOMMU"} or {@code "open /dev/vfio/7"}. */
    public String call() {
        return call;
    }

    /** The errno the kernel answered. */
    public int errno() {
        return errno;
    }

    /** Symbolic errno, e.g. {@code "EPERM"}. */
    public String errnoName() {
        return Errno.name(errno);
    }

    /** What the call was about, e.g. {@code "group 7"}; empty when nothing to add. */
    public String context() {
        return context;
    }

    /** Returns {@code result} when it is not negative, else throws for {@code -result} as errno. */
    static long check(long result, String call, String context) {
        if (result < 0) {
            throw new NativeException(call, (int) -result, context);
        }
        return result;
    }

    static int check(int result, String call, String context) {
        return (int) check((long) result, call, context);
    }
}
