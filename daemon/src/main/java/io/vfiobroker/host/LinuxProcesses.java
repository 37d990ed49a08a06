package io.vfiobroker.host;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import io.vfiobroker.nativeshim.FdLinks;
import java.util.Set;

/** {@link Processes} from a procfs directory: the real /proc, or a generated tree's proc/ in tests and demo. */
public final class LinuxProcesses implements Processes {

    /** The real /proc, even on a generated host tree: clients and holders are real processes. */
    public static final LinuxProcesses REAL = new LinuxProcesses(Path.of("/proc"));
    /** What /proc/PID/maps appends to a mapped file whose path was unlinked. */
    private static final String DELETED = " (deleted)";

    private final Path proc;

    public LinuxProcesses(Path proc) {
        this.proc = proc;
    }

    private Path dir(int pid) {
        if (pid <= 0) throw new HostPathException("pid " + pid + " names no process");
        return proc.resolve(Integer.toString(pid));
    }

    @Override
    public List<Integer> pids() {
        List<Integer> out = new ArrayList<>();
        try (DirectoryStream<Path> ps = Files.newDirectoryStream(proc, p -> isPid(p.getFileName().toString()))) {
            for (Path p : ps) out.add(Integer.parseInt(p.getFileName().toString()));
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + proc + ": " + e.getMessage(), e);
        }
        return out;
    }

    @Override
    public boolean alive(int pid) {
        return pid > 0 && Files.isDirectory(dir(pid));
    }

    @Override
    public OptionalInt owner(int pid) {
        return pid > 0 ? owner(dir(pid)) : OptionalInt.empty();
    }

    @Override
    public OptionalInt ownOwner() {
        return owner(proc.resolve("self"));
    }

    private static OptionalInt owner(Path p) {
        try {
            return OptionalInt.of(((Number) Files.getAttribute(p, "unix:uid")).intValue());
        } catch (IOException | RuntimeException e) {
            return OptionalInt.empty();
        }
    }

    @Override
    public Optional<String> comm(int pid) {
        return pid > 0 ? read(dir(pid).resolve("comm")).map(String::strip) : Optional.empty();
    }

    @Override
    public Optional<Long> startTime(int pid) {
        if (pid <= 0) return Optional.empty();
        return read(dir(pid).resolve("stat")).flatMap(stat -> {
            try {
                // comm (field 2) may hold spaces and parentheses: count from the last ')'.
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                return Optional.of(Long.parseLong(f[19]));
            } catch (RuntimeException e) {
                return Optional.empty();
            }
        });
    }

    @Override
    public Optional<ProcessStatus> status(int pid) {
        return pid > 0 ? read(dir(pid).resolve("status")).map(ProcessStatus::parse) : Optional.empty();
    }

    @Override
    public Optional<ProcessStatus> ownStatus() {
        return read(proc.resolve("self/status")).map(ProcessStatus::parse);
    }

    @Override
    public OptionalLong memlockSoftLimit(int pid) {
        if (pid <= 0) return OptionalLong.empty();
        try {
            for (String line : Files.readAllLines(dir(pid).resolve("limits"))) {
                if (!line.startsWith("Max locked memory")) continue;
                String[] f = line.substring("Max locked memory".length()).trim().split("\\s+");
                return OptionalLong.of(f[0].equals("unlimited") ? -1 : Long.parseLong(f[0]));
            }
        } catch (IOException | RuntimeException e) {
            // the process is gone, or the file is not what we know
        }
        return OptionalLong.empty();
    }

    @Override
    public Set<String> mappedFiles(int pid) {
        Set<String> out = new java.util.TreeSet<>();
        if (pid <= 0) return out;
        try (var lines = Files.lines(dir(pid).resolve("maps"), java.nio.charset.StandardCharsets.ISO_8859_1)) {
            // address perms offset dev inode pathname: the pathname is what follows the fifth field, when there is one.
            lines.forEach(l -> {
                String[] f = l.trim().split("\\s+", 6);
                if (f.length == 6 && !f[5].startsWith("[")) out.add(withoutDeleted(f[5]));
            });
        } catch (IOException | java.io.UncheckedIOException e) {
            // gone meanwhile, a kernel thread, or not ours to read: maps nothing we can see
        }
        return out;
    }

    /**
     * A mapped file's path as it was opened: the kernel appends " (deleted)" once the path is unlinked, as a vfio cdev's
     * /dev node is when vfio-pci's remove starts, while the mapping still holds the file open.
     */
    private static String withoutDeleted(String path) {
        return path.endsWith(DELETED) ? path.substring(0, path.length() - DELETED.length()) : path;
    }

    @Override
    public Map<Integer, String> fdLinks(int pid) {
        Map<Integer, String> out = new HashMap<>();
        if (pid <= 0) return out;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(dir(pid).resolve("fd"))) {
            for (Path f : fds) {
                String name = f.getFileName().toString();
                if (isPid(name)) link(f).ifPresent(t -> out.put(Integer.parseInt(name), t));
            }
        } catch (IOException e) {
            // gone meanwhile, a kernel thread, or not ours to read: holds nothing we can see
        }
        return out;
    }

    /** Natively: the JVM's per-link Path and String objects doubled the cost of the pass (the kernel's readlinks stay). */
    @Override
    public List<FdLink> fdsLinkingTo(Set<String> targets, int skipPid) {
        if (targets.isEmpty()) return List.of();
        List<String> all = List.copyOf(targets);
        List<FdLink> out = new ArrayList<>();
        // A pass takes at most FdLinks.MAX_TARGETS texts; a batch of many lease ends may ask for more (rare: a pass each).
        for (int from = 0; from < all.size(); from += FdLinks.MAX_TARGETS) {
            List<String> texts = all.subList(from, Math.min(all.size(), from + FdLinks.MAX_TARGETS));
            for (FdLinks.Match m : FdLinks.find(proc.toString(), texts, skipPid)) {
                out.add(new FdLink(m.pid(), m.fd(), texts.get(m.target())));
            }
        }
        return out;
    }

    @Override
    public Optional<String> ownFdLink(int fd) {
        return fd < 0 ? Optional.empty() : link(proc.resolve("self/fd/" + fd));
    }

    @Override
    public Optional<String> namespace(int pid, String kind) {
        return pid > 0 ? namespace(dir(pid), kind) : Optional.empty();
    }

    @Override
    public Optional<String> ownNamespace(String kind) {
        return namespace(proc.resolve("self"), kind);
    }

    private Optional<String> namespace(Path process, String kind) {
        Optional<String> l = link(process.resolve("ns").resolve(kind));
        if (l.isPresent()) return l;
        // No such link for us nor for it (CONFIG_NAMESPACES=n): the kernel has the initial namespace only.
        boolean kernelHasKind = Files.exists(proc.resolve("self/ns").resolve(kind), LinkOption.NOFOLLOW_LINKS);
        if (kernelHasKind || !Files.isDirectory(process)
                || Files.exists(process.resolve("ns").resolve(kind), LinkOption.NOFOLLOW_LINKS)) return Optional.empty();
        return Optional.of(Processes.initialNamespace(kind));
    }

    private static Optional<String> link(Path p) {
        try {
            return Optional.of(Files.readSymbolicLink(p).toString());
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> read(Path p) {
        try {
            return Optional.of(Files.readString(p));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static boolean isPid(String name) {
        if (name.isEmpty() || name.length() > 10) return false;
        for (int i = 0; i < name.length(); i++) if (!Character.isDigit(name.charAt(i))) return false;
        return true;
    }
}
