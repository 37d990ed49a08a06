package io.vfiobroker.policy;

import java.util.List;

/** A policy file that cannot be used; the message lists every problem found with its line and key. */
public final class PolicyException extends RuntimeException {

    private final String source;
    private final List<PolicyError> errors;

    public PolicyException(String source, List<PolicyError> errors) {
        super(source + ": " + errors.size() + (errors.size() == 1 ? " error" : " errors") + ": "
                + String.join("; ", errors.stream().map(PolicyError::toString).toList()));
        this.source = source;
        this.errors = List.copyOf(errors);
    }

    public String source() { return source; }

    public List<PolicyError> errors() { return errors; }
}
