package io.vfiobroker.quota;

/** A uid is over one of its caps; the message names the cap (its setting) and the uid. gRPC RESOURCE_EXHAUSTED, HTTP 429. */
public final class QuotaExceededException extends RuntimeException {
    public QuotaExceededException(String message) {
        super(message);
    }
}
