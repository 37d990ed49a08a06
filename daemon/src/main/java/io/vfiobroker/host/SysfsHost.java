package io.vfiobroker.host;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The host's sysfs, /dev and /proc, seen below a root directory ("/" in production, a generated tree in tests
 * and demo). Paths are relative ("sys/bus/pci/devices") and must be built from validated components; the
 * implementation refuses any path that would leave the root.
 */
public interface SysfsHost {

    /** Whether this is the running kernel's own host ("/"), not a generated tree no kernel acts on. */
    boolean realHost();

    /** The node below dev/ to open ("vfio/3", "vfio/devices/vfio0", "iommu"): device fds are opened, not read. */
    Path deviceNode(String name);

    /**
     * Where a file the daemon itself keeps on this host lives (its sockets, state, CDI specs, kubelet registration):
     * below the host root, so a generated tree keeps them too. Host facts are never read through it.
     */
    Path daemonPath(String relative);

    /** The processes of this host's procfs (a generated tree's own proc/, whose "self" stands for the daemon). */
    Processes processes();

    /** This host's users and groups now (etc/passwd, etc/group), parsed again only when they changed. */
    Accounts accounts();

    /** /proc/interrupts whole: it outgrows a page on many-core hosts. Empty when unreadable. */
    default Optional<String> interrupts() {
        return readText("proc/interrupts", 16 << 20);
    }

    /** The trimmed text of a file, or empty when it does not exist or cannot be read. */
    Optional<String> read(String path);

    /**
     * The whole text of a file that may exceed a page (/proc/mounts, mountinfo, net/fib_trie on a busy host), up
     * to {@code max} bytes, untrimmed; empty when it does not exist or cannot be read.
     */
    default Optional<String> readText(String path, int max) {
        return read(path);
    }

    /** The last component of a symlink's target (a driver or group name), or empty when there is no link. */
    Optional<String> linkName(String path);

    /** A symlink's target as stored (relative, like the kernel's), or empty when there is no link. */
    Optional<String> linkTarget(String path);

    /**
     * What identifies the file or directory behind {@code path} (links followed): a device and inode. The kernel
     * gives a re-created device a new sysfs directory, so a changed identity means "not the device you read".
     * Empty when it does not exist, or when this host cannot tell (then nothing may be cached by it).
     */
    default Optional<Object> identity(String path) {
        return Optional.empty();
    }

    /** Entry names of a directory, empty when it does not exist. */
    List<String> list(String path);

    /** Reads symlink targets' last components for every link in a directory (one listing, no per-link stat). */
    default java.util.Map<String, String> linkNames(String dir) {
        java.util.Map<String, String> out = new java.util.HashMap<>();
        for (String e : list(dir)) linkName(dir + "/" + e).ifPresent(t -> out.put(e, t));
        return out;
    }

    boolean exists(String path);

    /**
     * Reads a directory's {@code files} that exist and the targets of its {@code links} in one go, without listing
     * it. Empty when the directory does not exist.
     */
    default Optional<DirSnapshot> snapshot(String dir, List<String> files, List<String> links) {
        if (!exists(dir)) return Optional.empty();
        java.util.Map<String, String> f = new java.util.HashMap<>();
        java.util.Map<String, String> l = new java.util.HashMap<>();
        for (String name : files) read(dir + "/" + name).ifPresent(v -> f.put(name, v));
        for (String name : links) linkTarget(dir + "/" + name).ifPresent(v -> l.put(name, v));
        return Optional.of(new DirSnapshot(f, l));
    }

    /** Writes a value the way the kernel wants sysfs attributes written: one write, no truncation games. */
    void write(String path, String value) throws java.io.IOException;
}
