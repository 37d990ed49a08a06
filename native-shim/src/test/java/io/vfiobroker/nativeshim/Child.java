package io.vfiobroker.nativeshim;

import com.sun.jna.Native;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** A {@link ChildMain} JVM driven line by line; optionally as uid/gid 65534 through util-linux setpriv. */
final class Child implements AutoCloseable {
    static final int NOBODY = 65534;
    private static Path sharedClasspath;

    private final Process process;
    private final BufferedReader out;
    private final PrintWriter in;

    private Child(Process process) {
        this.process = process;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.in = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
    }

    /** Who the child runs as. */
    enum As {
        ROOT,
        NOBODY,
        /** uid 0 but without CAP_IPC_LOCK, so RLIMIT_MEMLOCK binds it; same uid, so prlimit needs no CAP_SYS_RESOURCE. */
        ROOT_WITHOUT_IPC_LOCK,
        /** uid 0 without CAP_SYS_RESOURCE: a daemon whose unit withholds it. */
        ROOT_WITHOUT_SYS_RESOURCE,
        /** uid/gid 65534 with supplementary groups 27 and 100. */
        NOBODY_IN_GROUPS
    }

    static Child start(As as) throws IOException {
        Path cp = sharedClasspath();
        List<String> cmd = new ArrayList<>();
        if (as == As.NOBODY) {
            cmd.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
        } else if (as == As.NOBODY_IN_GROUPS) {
            cmd.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--groups=27,100"));
        } else if (as == As.ROOT_WITHOUT_IPC_LOCK) {
            cmd.addAll(List.of("setpriv", "--bounding-set=-ipc_lock"));
        } else if (as == As.ROOT_WITHOUT_SYS_RESOURCE) {
            cmd.addAll(List.of("setpriv", "--bounding-set=-sys_resource"));
        }
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData", "-Xshare:auto",
                "-Djna.tmpdir=" + cp.resolve("jna-tmp"), "-cp", cp.resolve("classes") + ":" + cp.resolve("test-classes")
                        + ":" + cp.resolve("jna.jar"), ChildMain.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Child c = new Child(p);
        String hello = c.out.readLine();
        if (hello == null || !hello.startsWith("ready")) {
            throw new IllegalStateException("child did not start: " + hello);
        }
        return c;
    }

    long pid() {
        return process.pid();
    }

    Process process() {
        return process;
    }

    /** Sends one command and returns the child's one-line answer. */
    String ask(String command) throws IOException {
        send(command);
        return reply();
    }

    /** Sends a command without waiting, for one that needs the test to act before it answers. */
    void send(String command) {
        in.println(command);
    }

    /** The next answer line. */
    String reply() throws IOException {
        String reply = out.readLine();
        if (reply == null) {
            throw new IllegalStateException("child exited before answering");
        }
        return reply;
    }

    /** Closes the child's stdin: ChildMain then runs off the end of main and exits 0. */
    void closeStdin() {
        in.close();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** Classes and the JNA jar copied where uid 65534 may read them (/root and ~/.m2 are 0700). */
    private static synchronized Path sharedClasspath() throws IOException {
        if (sharedClasspath != null) {
            return sharedClasspath;
        }
        Path dir = Files.createTempDirectory("vb-child-");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
        copyTree(location(Shim.class), dir.resolve("classes"));
        copyTree(location(ChildMain.class), dir.resolve("test-classes"));
        Files.copy(location(Native.class), dir.resolve("jna.jar"), StandardCopyOption.REPLACE_EXISTING);
        Path jnaTmp = Files.createDirectories(dir.resolve("jna-tmp"));
        try (Stream<Path> all = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x"
                        : "rw-r--r--"));
            }
        }
        Files.setPosixFilePermissions(jnaTmp, PosixFilePermissions.fromString("rwxrwxrwx"));
        sharedClasspath = dir;
        return dir;
    }

    static void deleteTree(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException | UncheckedIOException e) {
            // best effort: a temp dir left behind is harmless
        }
    }

    private static Path location(Class<?> c) {
        try {
            return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> all = Files.walk(from)) {
            for (Path p : (Iterable<Path>) all::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
