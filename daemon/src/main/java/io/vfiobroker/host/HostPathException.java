package io.vfiobroker.host;

/** A path that would escape the host root, or a missing host root: always a caller bug or hostile input. */
public final class HostPathException extends IllegalArgumentException {
    public HostPathException(String message) {
        super(message);
    }
}
