package io.vfiobroker.grpc;

import io.grpc.Context;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.lease.Caller;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Who is an admin: root, a member of {@code vfio-broker.admin-group} (by SO_PEERCRED pid's groups), or a remote
 * caller the TCP listener authenticated (client certificate or bearer token). Everyone else is a client: its
 * own leases, and what policy grants it.
 */
public final class Authz {

    /** Set by the TCP listener for callers it authenticated; absent on the Unix socket. */
    public static final Context.Key<String> REMOTE_ADMIN = Context.key("vfio-broker.remote-admin");

    private final OptionalInt adminGid;

    /** @param adminGroup a group name (from /etc/group) or number; null or blank for none */
    public Authz(String adminGroup) {
        this.adminGid = resolve(adminGroup, Path.of("/etc/group"));
    }

    public static Authz rootOnly() {
        return new Authz(null);
    }

    public OptionalInt adminGid() {
        return adminGid;
    }

    public boolean isAdmin(Caller c) {
        if (REMOTE_ADMIN.get() != null) return true;
        if (c.uid() == 0) return true;
        if (adminGid.isEmpty()) return false;
        int g = adminGid.getAsInt();
        if (c.gid() == g) return true;
        if (c.groups() != null) return c.groups().contains(g); // SO_PEERGROUPS, as of the connect
        // Supplementary groups are not in SO_PEERCRED; the caller's /proc status has them.
        return Memlock.processStatus(c.pid()).map(s -> s.lines().filter(l -> l.startsWith("Groups:")).findFirst()
                .map(l -> (" " + l.substring(7).trim() + " ").contains(" " + g + " ")).orElse(false)).orElse(false);
    }

    /** The caller for lease calls: admins act as root (see all, end any), clients as themselves. */
    public Caller leaseCaller(Caller c) {
        return isAdmin(c) && c.uid() != 0 ? new Caller(c.pid(), 0, c.gid(), c.groups()) : c;
    }

    static OptionalInt resolve(String group, Path etcGroup) {
        if (group == null || group.isBlank()) return OptionalInt.empty();
        String g = group.trim();
        if (g.matches("\\d{1,9}")) return OptionalInt.of(Integer.parseInt(g));
        try {
            for (String line : Files.readAllLines(etcGroup)) {
                String[] f = line.split(":");
                if (f.length >= 3 && f[0].equals(g)) return OptionalInt.of(Integer.parseInt(f[2]));
            }
        } catch (IOException | NumberFormatException e) {
            throw new IllegalStateException("cannot resolve admin group '" + g + "' from " + etcGroup + ": " + e.getMessage(), e);
        }
        throw new IllegalStateException("admin group '" + g + "' is not in " + etcGroup + "; set vfio-broker.admin-group to an existing group or a gid");
    }
}
