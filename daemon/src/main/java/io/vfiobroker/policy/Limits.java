package io.vfiobroker.policy;

import io.vfiobroker.domain.Backend;

/**
 * What a grant allows. Byte counts of {@link #UNLIMITED} mean no limit (RLIM_INFINITY, as prlimit takes it).
 *
 * @param maxDevices               devices one principal may hold at once under this rule ({@link #UNLIMITED}: any)
 * @param memlockBytesPerLease     RLIMIT_MEMLOCK set on the client for one lease
 * @param memlockBytesPerPrincipal locked memory all of a principal's leases together may use
 * @param backend                  DMA backend the lease may use
 * @param keepBound                leave the device on vfio-pci when the lease ends instead of restoring its driver
 * @param allowUnsafeInterrupts    grant devices whose interrupts are not remapped (marked unsafe)
 */
public record Limits(int maxDevices, long memlockBytesPerLease, long memlockBytesPerPrincipal, Backend backend,
                     boolean keepBound, boolean allowUnsafeInterrupts) {

    public static final int UNLIMITED = -1;

    /** Built-in defaults, used where neither the file's {@code defaults:} nor a rule says otherwise. */
    public static final Limits BUILT_IN = new Limits(1, 256L << 20, 1L << 30, Backend.EITHER, false, false);

    public Limits {
        if (backend == null) throw new IllegalArgumentException("backend must be set");
    }

    public Limits withBackend(Backend b) {
        return new Limits(maxDevices, memlockBytesPerLease, memlockBytesPerPrincipal, b, keepBound, allowUnsafeInterrupts);
    }
}
