package io.vfiobroker.nativeshim;

import java.util.List;

/**
 * One message from {@link UnixSockets#recvFds}: its bytes and the fds that came with it, now owned
 * here. An empty payload with no fds means the peer closed. Closing closes fds nobody took.
 */
public record ReceivedMessage(byte[] payload, List<OwnedFd> fds) implements AutoCloseable {
    public ReceivedMessage {
        fds = List.copyOf(fds);
    }

    /** Whether the peer has closed its end (orderly shutdown, nothing received). */
    public boolean endOfStream() {
        return payload.length == 0 && fds.isEmpty();
    }

    /** Closes every fd still open (those not {@link OwnedFd#release()}d). */
    @Override
    public void close() {
        for (OwnedFd fd : fds) {
            fd.close();
        }
    }
}
