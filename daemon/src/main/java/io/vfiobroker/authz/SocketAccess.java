package io.vfiobroker.authz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Who may connect to the daemon's sockets. With a group configured (vfio-broker.socket-group) only its members
 * (0660); without one any local user (0666) — either way SO_PEERCRED and policy decide what a caller gets.
 */
public final class SocketAccess {
    private SocketAccess() {
    }

    public static void apply(Path socket, String group) throws IOException {
        if (group == null || group.isBlank()) {
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
            return;
        }
        GroupPrincipal g;
        try {
            g = socket.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName(group);
        } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
            throw new IOException("vfio-broker.socket-group '" + group + "' is not a group on this host", e);
        }
        Files.getFileAttributeView(socket, PosixFileAttributeView.class).setGroup(g);
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
    }
}
