package io.vfiobroker.host;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.ArrayList;
import java.util.Set;

/**
 * Facts about processes (/proc): who they are, when they started, what they hold, which namespaces they are in.
 * Every answer is read at the time of the call; a process gone meanwhile answers empty.
 */
public interface Processes {

    /** The pids of every process now. */
    List<Integer> pids();

    boolean alive(int pid);

    /** The owner of the process's /proc directory (its effective uid, root for a non-dumpable one). */
    OptionalInt owner(int pid);

    Optional<String> comm(int pid);

    /** Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. Tells a pid's reuse. */
    Optional<Long> startTime(int pid);

    Optional<ProcessStatus> status(int pid);

    /** The soft RLIMIT_MEMLOCK from /proc/PID/limits; -1 = unlimited. */
    OptionalLong memlockSoftLimit(int pid);

    /** Fd number to link target ("/dev/vfio/3", "socket:[123]"); empty when gone or not ours to read. */
    Map<Integer, String> fdLinks(int pid);

    /**
     * The files {@code pid} has mapped, as the last field of /proc/PID/maps names them ("/dev/vfio/devices/vfio0",
     * "anon_inode:[vfio-device]"); empty when gone or not ours to read. A mapping holds its file open after every fd
     * of it is closed.
     */
    Set<String> mappedFiles(int pid);

    /** Fd {@code fd} of {@code pid} links to {@code target}. */
    record FdLink(int pid, int fd, String target) {
    }

    /**
     * Every fd of every process but {@code skipPid} whose link reads as one of {@code targets}: one pass over all
     * processes, which is what a lease end pays for.
     */
    default List<FdLink> fdsLinkingTo(Set<String> targets, int skipPid) {
        List<FdLink> out = new ArrayList<>();
        if (targets.isEmpty()) return out;
        for (int pid : pids()) {
            if (pid == skipPid) continue;
            for (Map.Entry<Integer, String> f : fdLinks(pid).entrySet()) {
                if (targets.contains(f.getValue())) out.add(new FdLink(pid, f.getKey(), f.getValue()));
            }
        }
        return out;
    }

    /**
     * The process's namespace of {@code kind} ("pid", "user") as readlink shows it. A kernel built without the kind
     * has one of it, shared by all: then every live process answers {@link #initialNamespace}. Empty on any doubt.
     */
    Optional<String> namespace(int pid, String kind);

    // The daemon's own facts, through /proc/self (a generated tree has no pid for it).

    OptionalInt ownOwner();

    Optional<ProcessStatus> ownStatus();

    Optional<String> ownFdLink(int fd);

    Optional<String> ownNamespace(String kind);

    /** What the initial namespace of a kind reads as (PROC_*_INIT_INO, fixed since Linux 3.8). */
    static String initialNamespace(String kind) {
        long ino = switch (kind) {
            case "pid" -> 0xEFFFFFFCL;
            case "user" -> 0xEFFFFFFDL;
            case "uts" -> 0xEFFFFFFEL;
            case "ipc" -> 0xEFFFFFFFL;
            default -> throw new IllegalArgumentException("no initial inode known for namespace kind " + kind);
        };
        return kind + ":[" + ino + "]";
    }

    /** Whether {@code pid} lives in the daemon's own pid and user namespaces; any doubt (gone, unreadable) is false. */
    default boolean inOwnNamespaces(int pid) {
        if (!alive(pid)) return false;
        for (String kind : List.of("pid", "user")) {
            Optional<String> ours = ownNamespace(kind);
            if (ours.isEmpty() || !ours.equals(namespace(pid, kind))) return false;
        }
        return true;
    }

    /** Whether both live and share a pid namespace; any doubt is false. */
    default boolean samePidNamespace(int a, int b) {
        if (!alive(a) || !alive(b)) return false;
        Optional<String> x = namespace(a, "pid");
        return x.isPresent() && x.equals(namespace(b, "pid"));
    }
}
