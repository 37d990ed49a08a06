package io.vfiobroker.authz;

import io.vfiobroker.host.Accounts;
import io.vfiobroker.host.LinuxAccounts;
import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.host.ProcessStatus;
import io.vfiobroker.host.Processes;
import io.vfiobroker.lease.Caller;

import java.util.OptionalInt;

/**
 * Who is an admin, for every entry point (gRPC, HTTP): root or a member of {@code vfio-broker.admin-group}, and in
 * either case a process in the daemon's own user and pid namespaces — uid 0 in a pod is not the host's root. Everyone
 * else is a client: the inventory, its own leases and its own audit records.
 */
public class Authorization {

    private final OptionalInt adminGid;
    private final Processes procs;

    /** @param adminGroup a group name (from the daemon's own group database) or number; null or blank for none */
    public Authorization(String adminGroup) {
        this(adminGroup, LinuxAccounts.REAL.now(), LinuxProcesses.REAL);
    }

    public Authorization(String adminGroup, Accounts accounts, Processes procs) {
        this.adminGid = resolve(adminGroup, accounts);
        this.procs = procs;
    }

    public OptionalInt adminGid() {
        return adminGid;
    }

    /** Whether a uid could be an admin at all (before looking at its process): root, or any uid when there is an admin group. */
    public boolean mayBeAdmin(int uid) {
        return uid == 0 || adminGid.isPresent();
    }

    /** Root or the admin group, and a process in our own user and pid namespaces (unknown process: not an admin). */
    public boolean isAdmin(Caller c) {
        if (!inAdminGroupOrRoot(c)) return false;
        return procs.inOwnNamespaces(c.pid());
    }

    private boolean inAdminGroupOrRoot(Caller c) {
        if (c.uid() == 0) return true;
        if (adminGid.isEmpty()) return false;
        int g = adminGid.getAsInt();
        if (c.gid() == g) return true;
        if (c.groups() != null) return c.groups().contains(g); // SO_PEERGROUPS, as of the connect
        // Supplementary groups are not in SO_PEERCRED; the caller's /proc status has them.
        return c.pid() > 0 && procs.status(c.pid()).map(ProcessStatus::groups).map(gs -> gs.contains(g)).orElse(false);
    }

    /**
     * Whether a non-admin caller may see and end a lease held by {@code holder}: the same uid, and for uid 0 (a pod's
     * root, since host root is an admin) a holder in the caller's own pid namespace — one pod never reaches another's.
     */
    public boolean owns(Caller caller, Caller holder) {
        if (caller.uid() != holder.uid()) return false;
        if (caller.uid() != 0) return true;
        return procs.samePidNamespace(caller.pid(), holder.pid());
    }

    /** The caller for lease calls: admins act as root (see all, end any), clients as themselves. */
    public Caller leaseCaller(Caller c) {
        return isAdmin(c) && c.uid() != 0 ? new Caller(c.pid(), 0, c.gid(), c.groups()) : c;
    }

    static OptionalInt resolve(String group, Accounts accounts) {
        if (group == null || group.isBlank()) return OptionalInt.empty();
        String g = group.trim();
        if (g.matches("\\d{1,9}")) return OptionalInt.of(Integer.parseInt(g));
        OptionalInt gid = accounts.groupId(g);
        if (gid.isPresent()) return gid;
        throw new IllegalStateException("admin group '" + g + "' is not in the group database (/etc/group, or it cannot be read); "
                + "set vfio-broker.admin-group to an existing group or a gid");
    }
}
