package io.vfiobroker.broker;

import io.vfiobroker.api.v1.FdBundle;
import io.vfiobroker.api.v1.FdInfo;
import io.vfiobroker.api.v1.Region;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.PeerCredentials;
import io.vfiobroker.nativeshim.UnixSockets;

import java.util.ArrayList;
import java.util.List;

/**
 * A peer of fd.sock: who it is (SO_PEERCRED, SO_PEERGROUPS) and the one message it gets back, an {@link FdBundle}
 * with the fds attached (SCM_RIGHTS), or an error.
 */
final class FdPeers {

    private FdPeers() {
    }

    static Caller caller(OwnedFd fd) {
        PeerCredentials cred = UnixSockets.peerCred(fd.fd());
        return new Caller(cred.pid(), cred.uid(), cred.gid(), groups(fd));
    }

    private static List<Integer> groups(OwnedFd fd) {
        try {
            int[] g = UnixSockets.peerGroups(fd.fd());
            List<Integer> out = new ArrayList<>(g.length);
            for (int x : g) out.add(x);
            return out;
        } catch (NativeException e) {
            return null; // the admin check falls back to /proc
        }
    }

    /** Sends the handover's fds, each described in the bundle; returns how many. */
    static int handover(OwnedFd conn, LeaseService.Handover h) {
        FdBundle.Builder b = FdBundle.newBuilder().setLeaseId(h.lease().id());
        int[] fds = new int[h.fds().size()];
        for (int i = 0; i < fds.length; i++) {
            HandoverFd f = h.fds().get(i);
            fds[i] = f.fd().fd();
            FdInfo.Builder info = FdInfo.newBuilder().setKind(kind(f.kind())).setIommuGroup(f.group()).setIoasId(Math.max(0, f.ioasId()));
            if (f.device() != null) info.setDevice(f.device());
            for (HandoverFd.Region r : f.regions()) {
                info.addRegions(Region.newBuilder().setIndex(r.index()).setFlags(r.flags()).setSize(r.size()).setOffset(r.offset()));
            }
            b.addFds(info);
        }
        reply(conn, b.build(), fds);
        return fds.length;
    }

    /** Sends an error, if the peer still listens. */
    static void error(OwnedFd conn, String message) {
        try {
            reply(conn, FdBundle.newBuilder().setError(message).build(), new int[0]);
        } catch (RuntimeException e) {
            // the peer is gone or not reading; it was being dropped anyway
        }
    }

    static void closeQuietly(OwnedFd fd) {
        try {
            fd.close();
        } catch (RuntimeException ignored) {
            // close(2) of a socket only fails for EBADF, which would be our bug and is logged nowhere useful
        }
    }

    private static void reply(OwnedFd conn, FdBundle bundle, int[] fds) {
        byte[] bytes = bundle.toByteArray();
        UnixSockets.sendFds(conn.fd(), bytes.length == 0 ? new byte[]{0} : bytes, fds); // SCM_RIGHTS needs a byte of data
    }

    private static FdInfo.Kind kind(HandoverFd.Kind k) {
        return switch (k) {
            case CONTAINER -> FdInfo.Kind.KIND_CONTAINER;
            case GROUP -> FdInfo.Kind.KIND_GROUP;
            case DEVICE -> FdInfo.Kind.KIND_DEVICE;
            case IOMMUFD -> FdInfo.Kind.KIND_IOMMUFD;
        };
    }
}
