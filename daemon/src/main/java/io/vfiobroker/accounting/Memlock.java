package io.vfiobroker.accounting;

import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.nativeshim.Rlimits;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * RLIMIT_MEMLOCK of client processes (set with prlimit, which needs CAP_SYS_RESOURCE) and their actual locked
 * and pinned memory (VmLck, VmPin from /proc/<pid>/status): type1 MAP_DMA charges VmLck of the caller, iommufd
 * always VmPin and, in per-process mode, VmLck too.
 */
public class Memlock {

    public record Usage(long vmLckBytes, long vmPinBytes) {
    }

    private final SysfsHost host;

    public Memlock(SysfsHost host) {
        this.host = host;
    }

    /** Sets soft and hard limit; returns the limit the process had before. */
    public Rlimits.Rlimit limit(int pid, long bytes) {
        Rlimits.Rlimit before;
        try {
            // Reading another uid's limit needs the same privilege as setting it.
            before = Rlimits.getMemlock(pid);
            Rlimits.setMemlock(pid, new Rlimits.Rlimit(bytes, bytes));
        } catch (io.vfiobroker.nativeshim.NativeException e) {
            if ("EPERM".equals(e.errnoName())) {
                // Fail closed: a lease whose memlock limit cannot be enforced is not granted.
                throw new IllegalStateException("cannot set RLIMIT_MEMLOCK of pid " + pid + " to " + bytes + " bytes: " + e.getMessage()
                        + "; the daemon needs CAP_SYS_RESOURCE (granted by deploy/vfio-broker.service)", e);
            }
            throw e;
        }
        return before;
    }

    public void restore(int pid, Rlimits.Rlimit before) {
        Rlimits.setMemlock(pid, before);
    }

    public Optional<Usage> usage(int pid) {
        Optional<String> status = processStatus(pid);
        if (status.isEmpty()) return Optional.empty();
        long lck = 0;
        long pin = 0;
        for (String line : status.get().lines().toList()) {
            if (line.startsWith("VmLck:")) lck = kb(line);
            else if (line.startsWith("VmPin:")) pin = kb(line);
        }
        return Optional.of(new Usage(lck, pin));
    }

    /**
     * /proc/<pid>/status of a live client. Always the real /proc, even on a generated host tree: the clients are
     * real processes.
     */
    public static Optional<String> processStatus(int pid) {
        if (pid <= 0) return Optional.empty();
        try {
            return Optional.of(Files.readString(Path.of("/proc", Integer.toString(pid), "status")));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The soft RLIMIT_MEMLOCK of {@code pid} from /proc/<pid>/limits; -1 = unlimited; empty when unreadable. */
    public OptionalLong softLimit(int pid) {
        if (pid <= 0) return OptionalLong.empty();
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Integer.toString(pid), "limits"))) {
                if (!line.startsWith("Max locked memory")) continue;
                String[] f = line.substring("Max locked memory".length()).trim().split("\\s+");
                return OptionalLong.of(f[0].equals("unlimited") ? -1 : Long.parseLong(f[0]));
            }
        } catch (IOException | RuntimeException e) {
            // the process is gone, or the file is not what we know
        }
        return OptionalLong.empty();
    }

    private static long kb(String line) {
        String[] f = line.split("\\s+");
        try {
            return Long.parseLong(f[1]) * 1024;
        } catch (RuntimeException e) {
            return 0;
        }
    }
}
