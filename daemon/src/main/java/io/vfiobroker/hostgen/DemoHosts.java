package io.vfiobroker.hostgen;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The demo host's tree, written on a thread of its own from the moment the daemon command knows it serves one:
 * Spring's start (a single thread for seconds) runs beside it on the other core instead of after it.
 */
public final class DemoHosts {

    private static final Map<Path, CompletableFuture<Path>> WRITING = new ConcurrentHashMap<>();
    private static final Path SHM = Path.of("/dev/shm");
    private static final String PREFIX = "vfio-broker-demo-";

    private DemoHosts() {
    }

    /**
     * A new directory for a demo: in memory ({@code /dev/shm}) when that is a writable tmpfs, else in java.io.tmpdir.
     * The tree is ~900 small files, a stand-in for sysfs: on this machine's ext4 creating them cost 0.6 s of kernel
     * CPU, on tmpfs 0.1 s. The name is short (6 random characters, not createTempDirectory's 19 digits): the demo's
     * kubelet and DRA sockets lie deep below it, and a Unix socket path has at most 107 bytes.
     */
    public static Path newDirectory() throws IOException {
        if (inMemory(SHM)) {
            try {
                return create(SHM);
            } catch (IOException refused) {
                // out of inodes, or a policy (SELinux) that keeps us out: the disk will do
            }
        }
        return create(Path.of(System.getProperty("java.io.tmpdir")));
    }

    private static Path create(Path parent) throws IOException {
        var owner = PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
        for (int attempt = 0; ; attempt++) {
            String name = PREFIX + Long.toString(ThreadLocalRandom.current().nextLong(36L * 36 * 36 * 36 * 36 * 36), 36);
            try {
                return Files.createDirectory(parent.resolve(name), owner); // mkdir fails on any name that exists, whoever made it
            } catch (FileAlreadyExistsException taken) {
                if (attempt == 100) throw taken;
            }
        }
    }

    static boolean inMemory(Path dir) {
        try {
            return Files.isDirectory(dir) && Files.isWritable(dir) && "tmpfs".equals(Files.getFileStore(dir).type());
        } catch (IOException e) {
            return false;
        }
    }

    /** Starts writing the demo tree at {@code root}; {@link #await} answers when it is there. */
    public static void startWriting(Path root) {
        WRITING.computeIfAbsent(root, r -> CompletableFuture.supplyAsync(() -> HostTreeGenerator.generate(HostSpec.demo(), r)));
    }

    /** The demo tree at {@code root}: the one started earlier, else written now. A failure is the writer's own exception. */
    public static Path await(Path root) {
        CompletableFuture<Path> f = WRITING.remove(root);
        if (f == null) return HostTreeGenerator.generate(HostSpec.demo(), root);
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw e;
        }
    }

    /**
     * Waits for a writer started at {@code root} to finish, writing nothing itself: a daemon that failed to start
     * deletes the demo directory after this, so no file is written into it afterwards.
     */
    public static void settle(Path root) {
        CompletableFuture<Path> f = WRITING.remove(root);
        if (f == null) return;
        try {
            f.join();
        } catch (CompletionException ignored) {
            // the start-up failure is what the caller reports
        }
    }
}
