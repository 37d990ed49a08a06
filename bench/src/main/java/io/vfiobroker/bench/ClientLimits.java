package io.vfiobroker.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the lease benches' clients (this process's children, same uid) can be limited to, and whether the daemon may raise it. */
final class ClientLimits {

    private static final long CAP_SYS_RESOURCE = 1L << 24;

    private ClientLimits() {
    }

    /**
     * A memlock limit the daemon can set without CAP_SYS_RESOURCE: half this process's hard RLIMIT_MEMLOCK (children
     * inherit it), or 64 MiB where it is unlimited.
     */
    static long memlockBelowHardLimit() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/limits"))) {
            if (!l.startsWith("Max locked memory")) continue;
            String hard = l.substring("Max locked memory".length()).trim().split("\\s+")[1];
            return hard.equals("unlimited") ? 64L << 20 : Long.parseLong(hard) / 2;
        }
        throw new IOException("no 'Max locked memory' in /proc/self/limits");
    }

    /** Whether this process (and so the daemon it starts) has CAP_SYS_RESOURCE in its effective set. */
    static boolean capSysResource() throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("CapEff:")) return (Long.parseUnsignedLong(l.substring(7).trim(), 16) & CAP_SYS_RESOURCE) != 0;
        }
        return false;
    }
}
