package io.vfiobroker.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/** The real file system below a root directory. */
public class LinuxSysfsHost implements SysfsHost {

    // sysfs attributes are at most a page; reading into a small reused buffer keeps a full scan cheap.
    private static final int MAX_ATTRIBUTE = 4096;
    private static final ThreadLocal<ByteBuffer> BUFFER = ThreadLocal.withInitial(() -> ByteBuffer.allocate(MAX_ATTRIBUTE));

    private final Path root;
    private final Processes processes;
    private final LinuxAccounts accounts;

    public LinuxSysfsHost(Path root) {
        Path abs = root.toAbsolutePath().normalize();
        if (!Files.isDirectory(abs)) {
            throw new HostPathException("host root " + abs + " is not a directory");
        }
        if (!abs.toString().equals("/") && !Files.isDirectory(abs.resolve("sys"))) {
            throw new HostPathException("host root " + abs + " has no sys/ directory: not a host tree");
        }
        this.root = abs;
        this.processes = new LinuxProcesses(abs.resolve("proc"));
        this.accounts = new LinuxAccounts(abs);
    }

    /** The directory everything is read below: for this implementation and configuration only, not the port's. */
    public Path root() {
        return root;
    }

    @Override
    public boolean realHost() {
        return root.toString().equals("/");
    }

    @Override
    public Path deviceNode(String name) {
        return resolve("dev/" + name);
    }

    @Override
    public Path daemonPath(String relative) {
        return resolve(relative);
    }

    @Override
    public Processes processes() {
        return processes;
    }

    @Override
    public Accounts accounts() {
        return accounts.now();
    }

    @Override
    public String toString() {
        return root.toString();
    }

    /** Resolves a relative path, refusing absolute paths and any ".." or empty component. */
    protected Path resolve(String path) {
        if (path.isEmpty() || path.startsWith("/")) {
            throw new HostPathException("host path '" + path + "' must be relative to the host root");
        }
        for (String part : path.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                throw new HostPathException("host path '" + path + "' has an invalid component '" + part + "'");
            }
        }
        return root.resolve(path);
    }

    @Override
    public Optional<String> read(String path) {
        Path file = resolve(path);
        ByteBuffer buf = BUFFER.get();
        buf.clear();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (buf.hasRemaining() && ch.read(buf) > 0) {
                // sysfs hands out an attribute in one read; loop only for regular files in generated trees
            }
        } catch (NoSuchFileException | NotDirectoryException e) {
            return Optional.empty();
        } catch (IOException e) {
            // EACCES, EIO or EINVAL on a write-only or unreadable attribute: the fact is unavailable
            return Optional.empty();
        }
        return Optional.of(new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8).strip());
    }

    @Override
    public Optional<String> readText(String path, int max) {
        // procfs reports size 0 for generated files: read to EOF rather than trusting the size.
        try (var in = Files.newInputStream(resolve(path))) {
            return Optional.of(new String(in.readNBytes(max), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<String> linkName(String path) {
        try {
            Path target = Files.readSymbolicLink(resolve(path));
            Path name = target.getFileName();
            return name == null ? Optional.empty() : Optional.of(name.toString());
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<DirSnapshot> snapshot(String dir, List<String> files, List<String> links) {
        // One native call per directory: an 8k-device inventory is dominated by per-file JVM overhead otherwise.
        // Not listed: listing a sysfs directory costs more than the reads themselves.
        return io.vfiobroker.nativeshim.SysfsSnapshot.read(resolve(dir).toString(), files, links, "", false)
                .map(s -> new DirSnapshot(s.files(), s.links()));
    }

    @Override
    public Optional<Object> identity(String path) {
        try {
            return Optional.ofNullable(Files.readAttributes(resolve(path), java.nio.file.attribute.BasicFileAttributes.class).fileKey());
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    @Override
    public Optional<String> linkTarget(String path) {
        try {
            return Optional.of(Files.readSymbolicLink(resolve(path)).toString());
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.empty();
        }
    }

    @Override
    public List<String> list(String path) {
        // java.io.File.list returns plain names: no Path per entry, which matters on 8k-device hosts.
        String[] names = resolve(path).toFile().list();
        return names == null ? List.of() : Arrays.asList(names);
    }

    @Override
    public boolean exists(String path) {
        // lstat in the shim: Files.exists builds an exception for every miss.
        return io.vfiobroker.nativeshim.Posix.lexists(resolve(path));
    }

    @Override
    public void write(String path, String value) throws IOException {
        Path file = resolve(path);
        // No CREATE: writing to an attribute that does not exist is an error, as it is in sysfs (which, like
        // the shell's "echo >", ignores O_TRUNC).
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer data = ByteBuffer.wrap(value.getBytes(StandardCharsets.UTF_8));
            while (data.hasRemaining()) ch.write(data);
        }
    }
}
