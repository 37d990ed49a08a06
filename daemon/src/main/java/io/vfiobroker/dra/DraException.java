package io.vfiobroker.dra;

/** A claim that cannot be prepared or unprepared; the message is what the kubelet shows in the pod's events. */
public class DraException extends RuntimeException {
    public DraException(String message) {
        super(message);
    }

    public DraException(String message, Throwable cause) {
        super(message, cause);
    }
}
