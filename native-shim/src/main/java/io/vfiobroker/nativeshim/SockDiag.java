package io.vfiobroker.nativeshim;

import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * NETLINK_SOCK_DIAG for TCP (inet_diag, SOCK_DIAG_BY_FAMILY with an exact {@code inet_diag_req_v2}): the kernel's
 * record of who created the socket at the other end of a loopback connection.
 */
public final class SockDiag {

    /** TCP_TIME_WAIT and TCP_LISTEN as the kernel numbers its TCP states (include/net/tcp_states.h). */
    public static final int TCP_TIME_WAIT = 6;
    public static final int TCP_LISTEN = 10;

    private SockDiag() {
    }

    /**
     * @param uid   idiag_uid: the socket's owner (the fsuid that created it)
     * @param inode idiag_inode: 0 for a socket no file refers to any more (orphaned, timewait)
     * @param state idiag_state (TCP_ESTABLISHED = 1, ...)
     */
    public record Owner(int uid, long inode, int state) {
        /** A live socket some process holds: only such an answer names a caller. */
        public boolean held() {
            return inode != 0 && state != TCP_TIME_WAIT && state != TCP_LISTEN;
        }
    }

    /**
     * The TCP socket whose own address is {@code local} and whose peer is {@code remote}.
     *
     * @throws NativeException ENOENT when there is no such socket
     */
    public static Owner tcp(InetSocketAddress local, InetSocketAddress remote) {
        InetAddress l = local.getAddress();
        InetAddress r = remote.getAddress();
        int family;
        if (l instanceof Inet4Address && r instanceof Inet4Address) {
            family = LibcAbi.AF_INET;
        } else if (l instanceof Inet6Address && r instanceof Inet6Address) {
            family = LibcAbi.AF_INET6;
        } else {
            throw new IllegalArgumentException("mixed address families: " + local + " and " + remote);
        }
        IntByReference uid = new IntByReference();
        LongByReference inode = new LongByReference();
        IntByReference state = new IntByReference();
        NativeException.check(Shim.vb_inet_diag_tcp(family, l.getAddress(), local.getPort(), r.getAddress(), remote.getPort(), uid, inode, state),
                "inet_diag", "tcp " + local + " -> " + remote);
        return new Owner(uid.getValue(), inode.getValue(), state.getValue());
    }
}
