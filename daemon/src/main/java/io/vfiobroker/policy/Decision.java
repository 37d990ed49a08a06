package io.vfiobroker.policy;

import io.vfiobroker.domain.Backend;

import java.util.Set;

/** The answer to "may this principal have this device?". */
public sealed interface Decision permits Decision.Allowed, Decision.Refused {

    /** The rule name a refusal carries when no rule granted the device. */
    String DEFAULT_DENY = "default-deny";
    /** The rule name a refusal carries when the host has no such device. */
    String NO_SUCH_DEVICE = "no-such-device";

    /** The rule that decided, or {@link #DEFAULT_DENY}. */
    String rule();

    /** One sentence naming device, principal and rule, fit for a log line or an error returned to the client. */
    String reason();

    default boolean allowed() {
        return this instanceof Allowed;
    }

    /**
     * A grant.
     *
     * @param unsafeInterrupts true when the device's interrupts are not (known to be) remapped and the rule
     *                         allowed it anyway: leases and audit records must carry this mark
     */
    record Allowed(String rule, Limits limits, boolean unsafeInterrupts, String reason) implements Decision {
        public int maxDevices() { return limits.maxDevices(); }
        public long memlockBytesPerLease() { return limits.memlockBytesPerLease(); }
        public long memlockBytesPerPrincipal() { return limits.memlockBytesPerPrincipal(); }
        public Set<Backend> backends() { return limits.backends(); }
        public boolean keepBound() { return limits.keepBound(); }
        public boolean allowUnsafeInterrupts() { return limits.allowUnsafeInterrupts(); }
    }

    record Refused(String reason, String rule) implements Decision {
    }
}
