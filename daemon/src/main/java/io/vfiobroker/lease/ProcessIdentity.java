package io.vfiobroker.lease;

import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.host.Processes;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.Pidfd;

/** The identity of a socket's peer process beyond its pid: its start time, pinned by SO_PEERPIDFD where the kernel has it. */
public final class ProcessIdentity {

    /** The peer has exited already: nothing may be granted to its pid. */
    public static final long GONE = -2;

    private static final Processes PROC = LinuxProcesses.REAL;

    private ProcessIdentity() {
    }

    /**
     * The start time of the process that connected to {@code socketFd} (SO_PEERCRED's {@code pid}). With SO_PEERPIDFD
     * (Linux 6.5+) it is read while the pidfd shows that very process alive, so it can't be a later process's; elsewhere
     * it is read from /proc at once, which leaves only the window between connect and now.
     */
    public static long atConnect(int socketFd, int pid) {
        try (Pidfd peer = Pidfd.ofPeer(socketFd, pid)) {
            if (peer != null && peer.hasExited()) return GONE;
            long t = PROC.startTime(pid).orElse(GONE);
            if (peer != null && peer.hasExited()) return GONE;
            return t;
        } catch (NativeException e) {
            return PROC.startTime(pid).orElse(GONE);
        }
    }
}
