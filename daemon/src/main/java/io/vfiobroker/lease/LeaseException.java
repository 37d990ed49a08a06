package io.vfiobroker.lease;

/** Why an Acquire, Release or redeem was refused; {@code kind} maps to a gRPC status at the edge. */
public class LeaseException extends RuntimeException {

    public enum Kind { INVALID, DENIED, NOT_FOUND, CONFLICT, PRECONDITION, EXHAUSTED, KERNEL }

    private final Kind kind;
    private final String rule;

    public LeaseException(Kind kind, String message) {
        this(kind, message, null, null);
    }

    public LeaseException(Kind kind, String message, String rule, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.rule = rule;
    }

    public Kind kind() {
        return kind;
    }

    /** The policy rule behind a refusal, when one decided. */
    public String rule() {
        return rule;
    }
}
