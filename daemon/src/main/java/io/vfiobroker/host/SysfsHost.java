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

    /** The directory everything is read below. */
    Path root();

    /** The trimmed text of a file, or empty when it does not exist or cannot be read. */
    Optional<String> read(String path);

    /** The last component of a symlink's target (a driver or group name), or empty when there is no link. */
    Optional<String> linkName(String path);

    /** A symlink's target as stored (relative, like the kernel's), or empty when there is no link. */
    Optional<String> linkTarget(String path);

    /** Entry names of a directory, empty when it does not exist. */
    List<String> list(String path);

    /** Reads symlink targets' last components for every link in a directory (one listing, no per-link stat). */
    default java.util.Map<String, String> linkNames(String dir) {
        java.util.Map<String, String> out = new java.util.HashMap<>();
        for (String e : list(dir)) linkName(dir + "/" + e).ifPresent(t -> out.put(e, t));
        return out;
    }

    boolean exists(String path);

    /** Writes a value the way the kernel wants sysfs attributes written: one write, no truncation games. */
    void write(String path, String value) throws java.io.IOException;
}
