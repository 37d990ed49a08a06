package io.vfiobroker.binding;

/** A bind or release that could not be done (or was refused); the message says what, where, and what was restored. */
public class BindingException extends RuntimeException {
    private final boolean refused;

    public BindingException(String message, boolean refused) {
        super(message);
        this.refused = refused;
    }

    public BindingException(String message, Throwable cause) {
        super(message, cause);
        this.refused = false;
    }

    /** True when policy or protection said no (nothing was touched), false when the kernel failed a step. */
    public boolean refused() {
        return refused;
    }
}
