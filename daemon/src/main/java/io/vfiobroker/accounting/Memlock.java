package io.vfiobroker.accounting;

import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.host.Processes;
import io.vfiobroker.nativeshim.Errno;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.Rlimits;

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

    // Always the real /proc, even on a generated host tree: the clients are real processes.
    private final Processes procs;

    public Memlock(Processes procs) {
        this.procs = procs;
    }

    public Memlock() {
        this(LinuxProcesses.REAL);
    }

    /** Sets soft and hard limit; returns the limit the process had before. */
    public Rlimits.Rlimit limit(int pid, long bytes) {
        Rlimits.Rlimit before;
        try {
            // Reading another uid's limit needs the same privilege as setting it.
            before = Rlimits.getMemlock(pid);
            Rlimits.setMemlock(pid, new Rlimits.Rlimit(bytes, bytes));
        } catch (NativeException e) {
            if ("EPERM".equals(e.errnoName())) {
                // Fail closed: a lease whose memlock limit cannot be enforced is not granted.
                throw new IllegalStateException("cannot set RLIMIT_MEMLOCK of pid " + pid + " to " + bytes + " bytes: " + e.getMessage()
                        + "; the daemon needs CAP_SYS_RESOURCE (granted by deploy/vfio-broker.service)", e);
            }
            throw e;
        }
        return before;
    }

    /**
     * Sets the limit back; says why it could not (EPERM: raising it again needs CAP_SYS_RESOURCE, and the client keeps
     * the lower one). A process gone meanwhile (ESRCH) took its limit with it: nothing to report.
     */
    public Optional<String> restore(int pid, Rlimits.Rlimit before) {
        try {
            Rlimits.setMemlock(pid, before);
            return Optional.empty();
        } catch (NativeException e) {
            return e.errno() == Errno.ESRCH ? Optional.empty() : Optional.of(e.getMessage());
        }
    }

    public Optional<Usage> usage(int pid) {
        return procs.status(pid).map(s -> new Usage(s.vmLckBytes(), s.vmPinBytes()));
    }

    /** The soft RLIMIT_MEMLOCK of {@code pid}; -1 = unlimited; empty when unreadable. */
    public OptionalLong softLimit(int pid) {
        return procs.memlockSoftLimit(pid);
    }
}
