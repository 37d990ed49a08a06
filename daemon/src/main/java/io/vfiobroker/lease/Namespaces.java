package io.vfiobroker.lease;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Whether a process shares the daemon's pid and user namespaces. A container's uid 0 is the host's uid 0 unless user
 * namespaces are on, so a uid alone does not tell a pod from a host process; the namespaces do.
 */
public final class Namespaces {

    private Namespaces() {
    }

    /** False when either namespace differs or cannot be read (fail closed). */
    public static boolean sameAsDaemon(int pid) {
        return same(pid, "pid") && same(pid, "user");
    }

    private static boolean same(int pid, String ns) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/ns", ns)).equals(Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns", ns)));
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
