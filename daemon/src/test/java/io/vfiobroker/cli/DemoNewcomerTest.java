package io.vfiobroker.cli;

import io.vfiobroker.lease.ChildClassPath;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's newcomer path: `vfio-broker daemon --demo` (what bin/demo execs) as root in its own process, then
 * `vfio-broker client` as uid 1000 (whom the demo policy grants) through the demo's sockets; and the demo's tree is
 * gone once the daemon stops.
 */
class DemoNewcomerTest {

    static final Pattern DEMO_HOST = Pattern.compile("event=demo-host root=(\\S+)");
    Process daemon;
    final BlockingQueue<String> log = new LinkedBlockingQueue<>();
    final List<String> seen = new ArrayList<>();

    static List<String> java(Path cp, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-cp", cp + "/*:" + cp + "/classes", Main.class.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @AfterEach
    void stop() throws Exception {
        if (daemon != null && daemon.isAlive()) {
            daemon.destroy();
            if (!daemon.waitFor(30, TimeUnit.SECONDS)) daemon.destroyForcibly();
        }
    }

    private String awaitLine(Pattern p, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            String l = log.poll(200, TimeUnit.MILLISECONDS);
            if (l == null) {
                if (!daemon.isAlive()) break;
                continue;
            }
            seen.add(l);
            if (p.matcher(l).find()) return l;
        }
        throw new AssertionError("the daemon did not log " + p + " (alive=" + daemon.isAlive() + "):\n" + String.join("\n", seen));
    }

    /** The socket exists with its production mode (0666), which the daemon sets once it listens. */
    static boolean open(Path sock) throws java.io.IOException {
        try {
            return Files.getPosixFilePermissions(sock).containsAll(PosixFilePermissions.fromString("rw-rw-rw-"));
        } catch (java.nio.file.NoSuchFileException e) {
            return false;
        }
    }

    static String edu(Path host) throws Exception {
        try (var s = Files.list(host.resolve("sys/bus/pci/devices"))) {
            for (Path d : s.sorted().toList()) {
                if (Files.readString(d.resolve("vendor")).trim().equals("0x1234") && Files.readString(d.resolve("device")).trim().equals("0x11e8")) {
                    return d.getFileName().toString();
                }
            }
        }
        throw new AssertionError("the demo host has no edu device");
    }

    @Test
    void anUnprivilegedUserAcquiresThroughTheDemoSocketsAndTheDemoCleansUpAfterItself() throws Exception {
        Path cp = ChildClassPath.worldReadable();
        ProcessBuilder pb = new ProcessBuilder(java(cp, "daemon", "--demo", "--port", "0")).redirectErrorStream(true);
        pb.environment().remove("SUDO_UID"); // the demo policy grants SUDO_UID, else 1000
        daemon = pb.start();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(daemon.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) log.add(l);
            } catch (java.io.IOException ignored) {
            }
        }, "demo-daemon-log");
        reader.setDaemon(true);
        reader.start();

        Matcher m = DEMO_HOST.matcher(awaitLine(DEMO_HOST, 120));
        assertThat(m.find()).isTrue();
        Path host = Path.of(m.group(1));
        Path demoDir = host.getParent();
        Path run = host.resolve("run/vfio-broker");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!(open(run.resolve("api.sock")) && open(run.resolve("fd.sock")))) {
            assertThat(daemon.isAlive()).as("the daemon exited:\n%s", String.join("\n", seen)).isTrue();
            assertThat(System.nanoTime()).as("sockets not ready within 120 s").isLessThan(deadline);
            Thread.sleep(100);
        }

        // Every directory from / down to the sockets lets others through; the sockets are 0666 as in production.
        for (Path p = run; p != null; p = p.getParent()) {
            assertThat(Files.getPosixFilePermissions(p)).as("%s", p).contains(PosixFilePermission.OTHERS_EXECUTE);
        }

        String edu = edu(host);
        List<String> client = new ArrayList<>(List.of("setpriv", "--reuid=1000", "--regid=1000", "--clear-groups"));
        client.addAll(java(cp, "client", "--run-dir", run.toString(), edu));
        Process c = new ProcessBuilder(client).redirectErrorStream(true).start();
        String out = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(c.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(c.exitValue()).as(out).isZero();
        assertThat(out).contains("\"uid\":1000").contains("\"lease\":").contains("\"fds\":[");

        daemon.destroy(); // SIGTERM, as Ctrl-C on bin/demo or systemctl stop
        assertThat(daemon.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(demoDir).as("the demo's generated host and policy are removed on exit").doesNotExist();
    }
}
