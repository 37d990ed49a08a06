package io.vfiobroker.lease;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.stream.Stream;

/** This test JVM's class path, copied once to a world-readable place so a child running as another uid can load it. */
public final class ChildClassPath {
    private static Path copy;

    public static synchronized Path worldReadable() throws IOException {
        if (copy != null) return copy;
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "vb-cp-");
        Path classes = dir.resolve("classes");
        Files.createDirectories(classes);
        for (String entry : System.getProperty("java.class.path").split(":")) {
            Path p = Path.of(entry);
            if (Files.isRegularFile(p) && entry.endsWith(".jar")) {
                Files.copy(p, dir.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            } else if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.walk(p)) {
                    s.forEach(src -> {
                        try {
                            Path dst = classes.resolve(p.relativize(src).toString());
                            if (Files.isDirectory(src)) Files.createDirectories(dst);
                            else Files.copy(src, dst, StandardCopyOption.REPLACE_EXISTING);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    });
                }
            }
        }
        try (Stream<Path> s = Files.walk(dir)) {
            s.forEach(p -> {
                try {
                    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // temp files; the OS cleans /tmp eventually
            }
        }));
        copy = dir;
        return dir;
    }
}
