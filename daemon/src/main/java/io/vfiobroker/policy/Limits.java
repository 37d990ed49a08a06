package io.vfiobroker.policy;

import io.vfiobroker.domain.Backend;

import java.util.Collections;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * What a grant allows. Byte counts of {@link #UNLIMITED} mean no limit (RLIM_INFINITY, as prlimit takes it).
 *
 * @param maxDevices               devices one principal may hold at once under this rule ({@link #UNLIMITED}: any)
 * @param memlockBytesPerLease     RLIMIT_MEMLOCK set on the client for one lease
 * @param memlockBytesPerPrincipal locked memory all of a principal's leases together may use
 * @param backends                 DMA backends a lease may use, at least one; the policy's "either" is both
 * @param keepBound                leave the device on vfio-pci when the lease ends instead of restoring its driver
 * @param allowUnsafeInterrupts    grant devices whose interrupts are not remapped (marked unsafe)
 */
public record Limits(int maxDevices, long memlockBytesPerLease, long memlockBytesPerPrincipal, Set<Backend> backends,
                     boolean keepBound, boolean allowUnsafeInterrupts) {

    public static final int UNLIMITED = -1;

    /** Every backend: what the policy spells "either". */
    public static final Set<Backend> ANY_BACKEND = Collections.unmodifiableSet(EnumSet.allOf(Backend.class));

    /** Built-in defaults, used where neither the file's {@code defaults:} nor a rule says otherwise. */
    public static final Limits BUILT_IN = new Limits(1, 256L << 20, 1L << 30, ANY_BACKEND, false, false);

    public Limits {
        if (backends == null || backends.isEmpty()) throw new IllegalArgumentException("backends must name at least one backend");
        backends = Collections.unmodifiableSet(EnumSet.copyOf(backends));
    }

    /** These limits with {@code b} the only backend allowed. */
    public Limits narrowedTo(Backend b) {
        return new Limits(maxDevices, memlockBytesPerLease, memlockBytesPerPrincipal, EnumSet.of(b), keepBound, allowUnsafeInterrupts);
    }

    /** The policy's spelling of {@link #backends}: "legacy", "iommufd", or "either" for both. */
    public String backendName() {
        return backends.size() == 1 ? backends.iterator().next().wireName() : "either";
    }

    /** Reads the policy's spelling (any case); anything else is refused with a message naming the value. */
    static Set<Backend> backends(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "either" -> ANY_BACKEND;
            case "legacy" -> EnumSet.of(Backend.LEGACY);
            case "iommufd" -> EnumSet.of(Backend.IOMMUFD);
            default -> throw new IllegalArgumentException("'" + s + "' is not one of legacy, iommufd, either");
        };
    }
}
