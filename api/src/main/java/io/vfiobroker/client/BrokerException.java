package io.vfiobroker.client;

/** The daemon refused or botched the fd handover; the message says which. */
public final class BrokerException extends RuntimeException {
    public BrokerException(String message) {
        super(message);
    }
}
