package io.vfiobroker.web;

import io.vfiobroker.authz.Authorization;
import io.vfiobroker.authz.BearerTokens;
import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.host.ProcessStatus;
import io.vfiobroker.host.Processes;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.SockDiag;
import jakarta.servlet.http.HttpServletRequest;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Identifies the caller of an HTTP request. A TLS client certificate (verified by the connector) or a bearer token
 * makes a remote admin. Otherwise the client's socket must be on this host: inet_diag finds it by the connection's
 * 4-tuple and names its owner uid, like SO_PEERCRED on a Unix socket. No live socket, no caller.
 */
public class HttpIdentity {

    /** Why a request has no caller; the message is the answer's detail. */
    public static final class Unidentified extends Exception {
        Unidentified(String message) {
            super(message);
        }
    }

    private record Holder(int pid, int gid, long at) {
    }

    private static final long CACHE_NANOS = 30_000_000_000L;
    private final Authorization authz;
    private final BearerTokens tokens;
    private final Processes proc;
    // Per connection (socket inode + uid): finding the pid scans /proc, a request should not pay that twice.
    private final Map<String, Holder> holders = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Holder> e) {
            return size() > 1024;
        }
    };

    public HttpIdentity(Authorization authz, BearerTokens tokens) {
        this(authz, tokens, LinuxProcesses.REAL);
    }

    HttpIdentity(Authorization authz, BearerTokens tokens, Processes proc) {
        this.authz = authz;
        this.tokens = tokens;
        this.proc = proc;
    }

    private volatile UnixHttpRelay relay;

    /** The Unix-socket relay, once it listens: its connections are identified by SO_PEERCRED. */
    public void relay(UnixHttpRelay relay) {
        this.relay = relay;
    }

    /**
     * The caller of a request that came through the Unix socket: the relay's port maps to the connecting process, and
     * inet_diag confirms the daemon itself holds that client end (no other process can stand in for the relay).
     */
    public Optional<WebCaller> relayed(HttpServletRequest req) {
        UnixHttpRelay r = relay;
        if (r == null) return Optional.empty();
        Optional<Caller> c = r.caller(req.getRemotePort());
        if (c.isEmpty()) return Optional.empty();
        try {
            InetAddress from = InetAddress.getByName(req.getRemoteAddr());
            if (!from.isLoopbackAddress()) return Optional.empty();
            SockDiag.Owner o = SockDiag.tcp(new InetSocketAddress(from, req.getRemotePort()),
                    new InetSocketAddress(InetAddress.getByName(req.getLocalAddr()), req.getLocalPort()));
            if (!o.held() || o.uid() != SELF_UID) return Optional.empty();
        } catch (NativeException | IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
        Caller caller = c.get();
        return Optional.of(new WebCaller(caller, authz.isAdmin(caller), "unix socket"));
    }

    // -2 when unknown: matches no socket owner, so relayed requests stay unidentified.
    private static final int SELF_UID = LinuxProcesses.REAL.ownOwner().orElse(-2);

    public WebCaller identify(HttpServletRequest req) throws Unidentified {
        if (req.getAttribute("jakarta.servlet.request.X509Certificate") instanceof X509Certificate[] chain && chain.length > 0) {
            return new WebCaller(new Caller(-1, 0, 0), true, "client certificate " + chain[0].getSubjectX500Principal().getName());
        }
        if (!tokens.isEmpty() && tokens.accepts(req.getHeader("Authorization"))) {
            return new WebCaller(new Caller(-1, 0, 0), true, "bearer token");
        }
        SockDiag.Owner o;
        try {
            InetSocketAddress client = new InetSocketAddress(InetAddress.getByName(req.getRemoteAddr()), req.getRemotePort());
            InetSocketAddress server = new InetSocketAddress(InetAddress.getByName(req.getLocalAddr()), req.getLocalPort());
            o = SockDiag.tcp(client, server);
        } catch (NativeException | IOException | IllegalArgumentException e) {
            throw new Unidentified("cannot identify the caller: no socket of this host is the client end of the connection from "
                    + req.getRemoteAddr() + " port " + req.getRemotePort() + " (" + e.getMessage() + ")");
        }
        if (!o.held()) {
            throw new Unidentified("cannot identify the caller: the client socket from " + req.getRemoteAddr() + " port " + req.getRemotePort()
                    + " is no longer held by any process");
        }
        Caller c = new Caller(-1, o.uid(), -1);
        if (authz.mayBeAdmin(o.uid())) {
            // Admin needs a process (its groups and namespaces): find the one that holds the socket.
            Holder h = holder(o);
            if (h != null) c = new Caller(h.pid(), o.uid(), h.gid());
        }
        return new WebCaller(c, authz.isAdmin(c), "inet_diag");
    }

    private Holder holder(SockDiag.Owner o) {
        String key = o.inode() + "/" + o.uid();
        synchronized (holders) {
            Holder h = holders.get(key);
            if (h != null && System.nanoTime() - h.at() < CACHE_NANOS && proc.alive(h.pid())) return h;
        }
        Holder found = scan(o);
        if (found != null) {
            synchronized (holders) {
                holders.put(key, found);
            }
        }
        return found;
    }

    /** The process of uid {@code o.uid()} holding socket:[inode]; null if none, or if processes in different namespaces share it. */
    private Holder scan(SockDiag.Owner o) {
        String target = "socket:[" + o.inode() + "]";
        List<Integer> pids = new ArrayList<>();
        try {
            for (int pid : proc.pids()) {
                if (proc.owner(pid).orElse(-1) != o.uid()) continue;
                if (proc.fdLinks(pid).containsValue(target)) pids.add(pid);
            }
        } catch (IllegalStateException e) {
            return null;
        }
        if (pids.isEmpty()) return null;
        // Shared after fork: every holder must pass the namespace check for the connection to count as one of ours.
        int pid = pids.get(0);
        for (int other : pids) {
            if (!proc.samePidNamespace(pid, other)) return null;
        }
        return new Holder(pid, proc.status(pid).map(ProcessStatus::gid).filter(g -> g >= 0).orElse(-1), System.nanoTime());
    }
}
