package io.vfiobroker.nativeshim;

import com.sun.jna.ptr.IntByReference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** AF_UNIX sockets by path, fd passing with SCM_RIGHTS, and SO_PEERCRED. All fds are close-on-exec. */
public final class UnixSockets {
    /** Most fds one message may carry (the shim's limit). */
    public static final int MAX_FDS = 64;

    private UnixSockets() {
    }

    /** Binds and listens at {@code path} (which must not exist yet); the file mode follows the umask. */
    public static OwnedFd listen(Path path, SocketType type, int backlog) {
        return new OwnedFd(NativeException.check(Shim.vb_unix_listen(path.toString(), type.value, backlog),
                "listen " + path, ""));
    }

    /** Connects to the socket at {@code path}. */
    public static OwnedFd connect(Path path, SocketType type) {
        return new OwnedFd(NativeException.check(Shim.vb_unix_connect(path.toString(), type.value),
                "connect " + path, ""));
    }

    /** Accepts one connection, blocking until a peer connects. */
    public static OwnedFd accept(int listeningFd) {
        return new OwnedFd(NativeException.check(Shim.vb_accept(listeningFd), "accept", "fd " + listeningFd));
    }

    /**
     * Accepts one pending connection as a non-blocking socket, or returns null when none is pending (the
     * listener must be non-blocking, see {@link #setNonBlocking}): for event loops that must not wait on a peer.
     */
    public static OwnedFd acceptNonBlocking(int listeningFd) {
        int r = Shim.vb_accept_nonblock(listeningFd);
        if (r == -Errno.EAGAIN) return null;
        return new OwnedFd(NativeException.check(r, "accept", "fd " + listeningFd));
    }

    /** Sets O_NONBLOCK on {@code fd} (on) or clears it: reads and writes then fail with EAGAIN instead of waiting. */
    public static void setNonBlocking(int fd, boolean on) {
        NativeException.check(Shim.vb_set_nonblock(fd, on ? 1 : 0), "fcntl O_NONBLOCK", "fd " + fd);
    }

    /** A connected pair of sockets (both ends owned by the caller). */
    public static OwnedFd[] socketPair(SocketType type) {
        int[] sv = new int[2];
        NativeException.check(Shim.vb_socketpair(type.value, sv), "socketpair", "");
        return new OwnedFd[] {new OwnedFd(sv[0]), new OwnedFd(sv[1])};
    }

    /** shutdown(2) one or both directions ({@link LibcAbi#SHUT_WR} tells the peer "no more"). */
    public static void shutdown(int socketFd, int how) {
        NativeException.check(Shim.vb_shutdown(socketFd, how), "shutdown", "fd " + socketFd);
    }

    /** Sends {@code payload} (at least one byte) and duplicates of {@code fds} in one message; returns bytes sent. */
    public static int sendFds(int socketFd, byte[] payload, int... fds) {
        if (payload.length == 0) {
            throw new IllegalArgumentException("SCM_RIGHTS needs at least one payload byte");
        }
        if (fds.length > MAX_FDS) {
            throw new IllegalArgumentException(fds.length + " fds in one message, at most " + MAX_FDS);
        }
        return (int) NativeException.check(Shim.vb_send_fds(socketFd, payload, payload.length, fds, fds.length),
                "sendmsg", "fd " + socketFd + ", " + fds.length + " fds");
    }

    /**
     * Receives one message of up to {@code maxPayload} bytes and {@code maxFds} fds. A message that
     * does not fit fails with EMSGSIZE and any fds it carried are closed, never leaked.
     */
    public static ReceivedMessage recvFds(int socketFd, int maxPayload, int maxFds) {
        if (maxFds > MAX_FDS) {
            throw new IllegalArgumentException("at most " + MAX_FDS + " fds per message");
        }
        byte[] buf = new byte[maxPayload];
        int[] fds = new int[Math.max(maxFds, 1)];
        IntByReference n = new IntByReference();
        int len = (int) NativeException.check(Shim.vb_recv_fds(socketFd, buf, buf.length, fds, maxFds, n),
                "recvmsg", "fd " + socketFd);
        List<OwnedFd> owned = new ArrayList<>();
        for (int i = 0; i < n.getValue(); i++) {
            owned.add(new OwnedFd(fds[i]));
        }
        return new ReceivedMessage(Arrays.copyOf(buf, len), owned);
    }

    /** The peer's pid, uid and gid, from the kernel (SO_PEERCRED), never from anything the peer said. */
    public static PeerCredentials peerCred(int socketFd) {
        IntByReference pid = new IntByReference();
        IntByReference uid = new IntByReference();
        IntByReference gid = new IntByReference();
        NativeException.check(Shim.vb_peer_cred(socketFd, pid, uid, gid), "SO_PEERCRED", "fd " + socketFd);
        return new PeerCredentials(pid.getValue(), uid.getValue(), gid.getValue());
    }

    /** The kernel's NGROUPS_MAX: no process has more supplementary groups. */
    private static final int NGROUPS_MAX = 65536;

    /** The peer's supplementary groups as of its connect (SO_PEERGROUPS), from the kernel like {@link #peerCred}. */
    public static int[] peerGroups(int socketFd) {
        int[] gids = new int[64];
        int n = Shim.vb_peer_groups(socketFd, gids, gids.length);
        if (n == -Errno.ERANGE) {
            gids = new int[NGROUPS_MAX];
            n = Shim.vb_peer_groups(socketFd, gids, gids.length);
        }
        NativeException.check(n, "SO_PEERGROUPS", "fd " + socketFd);
        return Arrays.copyOf(gids, n);
    }
}
