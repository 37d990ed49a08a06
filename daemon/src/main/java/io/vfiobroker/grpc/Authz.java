package io.vfiobroker.grpc;

import io.grpc.Context;
import io.vfiobroker.authz.Authorization;
import io.vfiobroker.lease.Caller;

/**
 * {@link Authorization} for gRPC calls: also an admin is a remote caller the TCP listener authenticated (client
 * certificate or bearer token), marked in the call's context.
 */
public final class Authz extends Authorization {

    /** Set by the TCP listener for callers it authenticated; absent on the Unix socket. */
    public static final Context.Key<String> REMOTE_ADMIN = Context.key("vfio-broker.remote-admin");

    /** @param adminGroup a group name (from /etc/group) or number; null or blank for none */
    public Authz(String adminGroup) {
        super(adminGroup);
    }

    public static Authz rootOnly() {
        return new Authz(null);
    }

    @Override
    public boolean isAdmin(Caller c) {
        return REMOTE_ADMIN.get() != null || super.isAdmin(c);
    }

    /** A remote admin acts on everything; a local client on what {@link Authorization#owns} gives it. */
    @Override
    public boolean owns(Caller caller, Caller holder) {
        return REMOTE_ADMIN.get() != null || super.owns(caller, holder);
    }
}
