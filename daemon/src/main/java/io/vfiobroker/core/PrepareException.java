package io.vfiobroker.core;

import io.vfiobroker.domain.PciAddress;

/** A prepare that did not happen; nothing it bound is left bound. The adapter turns the kind into its protocol's error. */
public final class PrepareException extends RuntimeException {

    public enum Kind {
        /** Policy refuses the device to the consumer: nothing was bound. */
        POLICY,
        /** The bind was refused before any write (protection, binding rules, no IOMMU group). */
        BIND_REFUSED,
        /** The bind failed on the way; what it wrote was rolled back. */
        BIND_FAILED
    }

    private final Kind kind;
    private final PciAddress device;

    PrepareException(Kind kind, PciAddress device, String reason, Throwable cause) {
        // Policy's reason is the whole message; a binding's says which device it could not bind.
        super(kind == Kind.POLICY ? reason : "cannot bind " + device + ": " + reason, cause);
        this.kind = kind;
        this.device = device;
    }

    public Kind kind() { return kind; }

    public PciAddress device() { return device; }
}
