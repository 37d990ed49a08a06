package io.vfiobroker.nativeshim;

/** AF_UNIX socket kinds: STREAM (a byte stream) or SEQPACKET (message boundaries kept, fds per message). */
public enum SocketType {
    STREAM(LibcAbi.SOCK_STREAM),
    SEQPACKET(LibcAbi.SOCK_SEQPACKET);

    final int value;

    SocketType(int value) {
        this.value = value;
    }
}
