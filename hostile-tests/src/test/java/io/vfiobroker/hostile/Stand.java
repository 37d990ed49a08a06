package io.vfiobroker.hostile;

import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The stage: the built daemon, started by the launcher as production starts it (a root JVM of its own), on a
 * generated host with a simulated kernel; the world-readable tools the attacker runs; a uid-1000 client that holds
 * a lease the whole time (the victim); and the daemon's state as an admin sees it.
 */
final class Stand implements AutoCloseable {

    /** Who runs a command: root (an admin, or an admin's browser), the attacker, a lab user, root in a pod. */
    enum Who { ROOT, NOBODY, LAB, POD_ROOT }

    static final int NOBODY_UID = 65534;
    static final int LAB_UID = 1000;
    /** Held by uid 1000 for the whole run: the lease the attacker goes after. */
    static final String VICTIM_VF = "0000:07:02.0";
    /** uid 1000's second grant: the legitimate traffic some attacks need. */
    static final String LAB_VF = "0000:07:02.1";
    /** Granted to uid 65534: the attacker is also a client holding a lease. */
    static final String NOBODY_VF = "0000:08:02.0";
    /** A VF nobody is granted, unbound. */
    static final String FREE_VF = "0000:07:02.2";
    static final int FREE_VF_GROUP = 16;
    /** One IOMMU group: a GPU (class 03, denied to all) and its HDMI audio (granted to uid 65534). */
    static final String GPU = "0000:05:00.0";
    static final String GPU_AUDIO = "0000:05:00.1";
    /** Bound to vfio-pci by root at start, no lease: an admin's binding the attacker tries to undo. */
    static final String EDU = "0000:06:00.0";
    static final int EDU_GROUP = 11;
    static final String BOOT_NVME = "0000:01:00.0";
    /** The second X710 PF: its interface is a slave of bond0, which is up with an address. */
    static final String BOND_SLAVE_PF = "0000:08:00.0";
    static final String BOND_SLAVE_IF = "ens2f0";

    static final String POLICY = """
            version: 1
            rules:
              - name: never-the-gpu
                action: deny
                devices:
                  class: "03"
                principals:
                  any: true
              - name: lab-vfs
                action: allow
                devices:
                  address: ["%s", "%s"]
                principals:
                  uid: %d
                limits:
                  maxDevices: 2
                  memlockPerLease: unlimited
              - name: nobody-audio-and-a-vf
                action: allow
                devices:
                  address: ["%s", "%s", "%s", "%s", "BTRFS_MEMBER"]
                principals:
                  uid: %d
                limits:
                  maxDevices: 1
                  memlockPerLease: unlimited
              - name: host-root-edu
                action: allow
                devices:
                  address: "%s"
                principals:
                  uid: 0
                limits:
                  memlockPerLease: unlimited
            """.formatted(VICTIM_VF, LAB_VF, LAB_UID, GPU_AUDIO, NOBODY_VF, BOOT_NVME, BOND_SLAVE_PF, NOBODY_UID, EDU);

    static final String PYTHON = "/usr/bin/python3";

    final Path checkout;
    final Path dir;
    final Path host;
    final Path run;
    final Path state;
    final Path policy;
    final Path launcher;
    final Path jar;
    final Path script;
    final Path classes;
    final int port;
    final String base;
    /** An NVMe controller whose disk is the second device of the btrfs "data" (granted to uid 65534, protected). */
    final String btrfsMember;
    private Process daemon;
    private Process victim;
    String victimLease;

    Stand() throws Exception {
        checkout = Path.of(System.getProperty("hostile.checkout", "..")).toAbsolutePath().normalize();
        Path cli = checkout.resolve("daemon/target/cli");
        if (!Files.isRegularFile(cli.resolve("vfio-broker-exec.jar"))) {
            throw new IllegalStateException("no built daemon at " + cli + ": run 'mvn -pl daemon -am install -DskipTests' first");
        }
        dir = Files.createTempDirectory(Path.of("/tmp"), "vb-hostile-");
        host = dir.resolve("host");
        run = dir.resolve("run");
        state = dir.resolve("state");
        policy = dir.resolve("policy.yaml");
        // What the unprivileged clients run, copied where any uid can read it (the checkout may sit under /root).
        copyTree(cli, dir.resolve("cli"));
        jar = dir.resolve("cli/vfio-broker-exec.jar");
        launcher = dir.resolve("bin/vfio-broker");
        Files.createDirectories(launcher.getParent());
        Files.copy(checkout.resolve("bin/vfio-broker"), launcher);
        script = dir.resolve("hostile.py");
        try (InputStream in = Stand.class.getResourceAsStream("/hostile/hostile.py")) {
            Files.copy(in, script);
        }
        classes = dir.resolve("classes");
        Path own = Path.of(JavaAttack.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        copyTree(own.resolve("io/vfiobroker/hostile"), classes.resolve("io/vfiobroker/hostile"));
        Files.createDirectories(run);
        worldReadable(dir);
        Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));

        // The demo server, plus what protection must see through: PF 2's interface enslaved to a bond that carries
        // an address, and a two-disk btrfs mounted from its first member.
        HostTreeGenerator.generate(HostSpec.demo()
                .withUppers(new HostSpec.Upper("bond0", HostSpec.UpperKind.BOND, List.of(BOND_SLAVE_IF), true, "10.0.0.5/24"))
                .withVolumes(new HostSpec.Volume(HostSpec.FsKind.BTRFS, "data", 2, "/srv/data", true)), host);
        btrfsMember = btrfsSecondMember();
        for (String a : List.of(VICTIM_VF, LAB_VF, NOBODY_VF, FREE_VF, GPU, GPU_AUDIO, EDU, BOOT_NVME, BOND_SLAVE_PF)) {
            if (!Files.isDirectory(host.resolve("sys/bus/pci/devices/" + a))) throw new IllegalStateException("the generated host has no " + a);
        }
        Files.writeString(policy, POLICY.replace("BTRFS_MEMBER", btrfsMember));
        port = freePort();
        base = "http://127.0.0.1:" + port;
        Path props = dir.resolve("daemon.properties");
        Files.writeString(props, String.join("\n",
                "vfio-broker.simulate-kernel=true",
                "vfio-broker.state-dir=" + state,
                "vfio-broker.run-dir=" + run,
                "vfio-broker.policy-file=" + policy,
                "vfio-broker.hotplug.enabled=false",
                "server.shutdown=immediate", ""));
        // As production: the launcher from the checkout, a root JVM of its own.
        daemon = new ProcessBuilder(checkout.resolve("bin/vfio-broker").toString(), "daemon", "--root", host.toString(),
                "--port", Integer.toString(port), "--config", props.toString())
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(dir.resolve("daemon.log").toFile()).start();
        awaitDaemon();

        // An admin's binding without a lease.
        Result bind = exec(Who.ROOT, curl("-XPOST", "-H", "Content-Type: application/json", "-d", "{\"group\":" + EDU_GROUP + "}", url("/api/v1/bindings")),
                Duration.ofSeconds(30));
        if (!bind.stdout().contains("HTTP 200")) throw new IllegalStateException("root could not bind the edu group: " + bind.all());
        startVictim();
    }

    String url(String path) {
        return base + path;
    }

    /** curl with a bounded time, the body on stdout and the status on a last line "HTTP nnn". */
    static List<String> curl(String... args) {
        List<String> c = new ArrayList<>(List.of("curl", "-sS", "-m", "10", "-o", "-", "-w", "\nHTTP %{http_code}\n"));
        c.addAll(List.of(args));
        return c;
    }

    List<String> py(String... args) {
        List<String> c = new ArrayList<>(List.of(PYTHON, script.toString(), run.toString()));
        c.addAll(List.of(args));
        return c;
    }

    /** The project's client CLI ({@code vfio-broker client}), from the world-readable copy. */
    List<String> client(String... args) {
        List<String> c = new ArrayList<>(List.of(launcher.toString(), "client", "--run-dir", run.toString()));
        c.addAll(List.of(args));
        return c;
    }

    /** {@link JavaAttack}: the client library and generated stubs, on the daemon's own class path. */
    List<String> java(String... args) {
        List<String> c = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Xshare:auto", "-cp", dir.resolve("cli/lib") + "/*:" + classes, JavaAttack.class.getName(), run.toString()));
        c.addAll(List.of(args));
        return c;
    }

    // ---- running things as someone

    record Result(int exit, String stdout, String stderr, long millis) {
        String all() {
            return ("exit " + exit + "\n" + stdout + "\n" + stderr).strip();
        }

        String firstLine() {
            String s = stdout.isBlank() ? stderr : stdout;
            return s.strip().lines().filter(l -> !l.isBlank()).map(String::strip).findFirst().orElse("(no output, exit " + exit + ")");
        }
    }

    static List<String> as(Who who, List<String> argv) {
        List<String> c = new ArrayList<>();
        switch (who) {
            case NOBODY -> c.addAll(List.of("setpriv", "--reuid=" + NOBODY_UID, "--regid=" + NOBODY_UID, "--clear-groups", "--"));
            case LAB -> c.addAll(List.of("setpriv", "--reuid=" + LAB_UID, "--regid=" + LAB_UID, "--clear-groups", "--"));
            // A container's root: its own pid namespace (and /proc), the host's uid 0.
            case POD_ROOT -> c.addAll(List.of("unshare", "--pid", "--fork", "--mount-proc", "--"));
            case ROOT -> {
            }
        }
        c.addAll(argv);
        return c;
    }

    ProcessBuilder builder(Who who, List<String> argv) {
        ProcessBuilder pb = new ProcessBuilder(as(who, argv)).directory(dir.toFile());
        Map<String, String> env = pb.environment();
        env.put("VFIO_BROKER_JAR", jar.toString());
        if (who == Who.NOBODY || who == Who.LAB) env.put("HOME", "/tmp");
        env.remove("VFIO_BROKER_SOCKET");
        env.remove("VFIO_BROKER_ALLOCATION");
        return pb;
    }

    Result exec(Who who, List<String> argv, Duration timeout) throws IOException, InterruptedException {
        return exec(who, argv, timeout, null);
    }

    /** Runs to the end (killed at {@code timeout}, or as soon as its output matches {@code stopWhen}). */
    Result exec(Who who, List<String> argv, Duration timeout, Pattern stopWhen) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Process p = builder(who, argv).start();
        p.getOutputStream().close();
        Drain out = new Drain(p.getInputStream());
        Drain err = new Drain(p.getErrorStream());
        long deadline = t0 + timeout.toNanos();
        boolean stopped = false;
        while (p.isAlive() && System.nanoTime() < deadline) {
            if (stopWhen != null && (stopWhen.matcher(out.text()).find() || stopWhen.matcher(err.text()).find())) {
                stopped = true;
                break;
            }
            p.waitFor(100, TimeUnit.MILLISECONDS);
        }
        boolean timedOut = p.isAlive();
        if (timedOut) kill(p);
        out.finish();
        err.finish();
        String stderr = err.text() + (timedOut ? (stopped ? "\n[stopped: output matched " + stopWhen + "]" : "\n[killed after " + timeout.toSeconds() + " s]") : "");
        return new Result(timedOut ? -1 : p.exitValue(), out.text(), stderr, (System.nanoTime() - t0) / 1_000_000);
    }

    /** A process that keeps running (stdin open) until {@link Background#close()}. */
    Background background(Who who, List<String> argv) throws IOException {
        Process p = builder(who, argv).start();
        return new Background(p, new Drain(p.getInputStream()), new Drain(p.getErrorStream()));
    }

    record Background(Process process, Drain out, Drain err) implements AutoCloseable {
        /** Waits until a line of its output matches, or it exits; answers the match or null. */
        String await(Pattern p, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (System.nanoTime() < deadline) {
                Matcher m = p.matcher(out.text());
                if (m.find()) return m.groupCount() > 0 ? m.group(1) : m.group();
                if (!process.isAlive()) {
                    m = p.matcher(out.text());
                    return m.find() ? (m.groupCount() > 0 ? m.group(1) : m.group()) : null;
                }
                Thread.sleep(50);
            }
            return null;
        }

        /** Closes its stdin and lets it finish (at most 15 s). */
        Result finish() throws InterruptedException {
            try {
                process.getOutputStream().close();
            } catch (IOException ignored) {
                // already gone
            }
            boolean ended = process.waitFor(15, TimeUnit.SECONDS);
            if (!ended) kill(process);
            out.finish();
            err.finish();
            return new Result(ended ? process.exitValue() : -1, out.text(), err.text(), 0);
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) finish();
        }
    }

    static final class Drain extends Thread {
        private final InputStream in;
        private final StringBuffer text = new StringBuffer();

        Drain(InputStream in) {
            this.in = in;
            setDaemon(true);
            start();
        }

        @Override
        public void run() {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                char[] buf = new char[8192];
                int n;
                while ((n = r.read(buf)) > 0) {
                    if (text.length() < (1 << 20)) text.append(buf, 0, n);
                }
            } catch (IOException ignored) {
                // the process went away
            }
        }

        String text() {
            return text.toString();
        }

        void finish() throws InterruptedException {
            join(5000);
        }
    }

    private static void kill(Process p) throws InterruptedException {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
    }

    // ---- the victim

    void startVictim() throws Exception {
        victim = builder(Who.LAB, client("--hold", VICTIM_VF)).start();
        Drain out = new Drain(victim.getInputStream());
        Drain err = new Drain(victim.getErrorStream());
        Background b = new Background(victim, out, err);
        victimLease = b.await(Pattern.compile("\"lease\":\"([0-9a-f-]{36})\""), Duration.ofSeconds(60));
        if (victimLease == null || b.await(Pattern.compile("HOLDING"), Duration.ofSeconds(30)) == null) {
            throw new IllegalStateException("uid 1000 could not take its lease on " + VICTIM_VF + ": " + out.text() + err.text());
        }
    }

    boolean victimAlive() {
        return victim != null && victim.isAlive();
    }

    // ---- what an admin sees

    record State(Map<String, String> drivers, String leases, String policyActive, String policyFile, String journal, long auditBytes) {
    }

    State snapshot() throws Exception {
        Map<String, String> drivers = new TreeMap<>();
        try (Stream<Path> devs = Files.list(host.resolve("sys/bus/pci/devices"))) {
            for (Path d : devs.toList()) {
                Path link = d.resolve("driver");
                String driver = Files.isSymbolicLink(link) ? Files.readSymbolicLink(link).getFileName().toString() : "-";
                Path ov = d.resolve("driver_override");
                String override = Files.isRegularFile(ov) ? Files.readString(ov).strip() : "";
                drivers.put(d.getFileName().toString(), driver + (override.isEmpty() || override.equals("(null)") ? "" : " override=" + override));
            }
        }
        Result r = exec(Who.ROOT, py("state"), Duration.ofSeconds(20));
        Matcher m = Pattern.compile("STATE leases=(\\S*) policy=(\\S*)").matcher(r.stdout());
        if (!m.find()) throw new IllegalStateException("root cannot read the daemon's state: " + r.all());
        long audit = 0;
        try (Stream<Path> files = Files.list(state)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("audit")).toList()) audit += Files.size(f);
        }
        Path journal = state.resolve("binding-journal.jsonl");
        return new State(drivers, m.group(1), m.group(2), sha256(policy), Files.exists(journal) ? sha256(journal) : "", audit);
    }

    /** What changed that an attacker must not be able to change; the journal is left out when legitimate clients ran. */
    static List<String> changes(State a, State b, boolean legitimateTraffic) {
        List<String> out = new ArrayList<>();
        for (String dev : a.drivers().keySet()) {
            if (!a.drivers().get(dev).equals(b.drivers().get(dev))) out.add("driver of " + dev + ": " + a.drivers().get(dev) + " -> " + b.drivers().get(dev));
        }
        if (!a.leases().equals(b.leases())) out.add("leases: [" + a.leases() + "] -> [" + b.leases() + "]");
        if (!a.policyActive().equals(b.policyActive())) out.add("policy in force: " + a.policyActive() + " -> " + b.policyActive());
        if (!a.policyFile().equals(b.policyFile())) out.add("policy file changed");
        if (!legitimateTraffic && !a.journal().equals(b.journal())) out.add("binding journal changed");
        return out;
    }

    /** Puts back what a successful attack changed, so the next attack starts from the same state. */
    void restore(State baseline) throws Exception {
        State now = snapshot();
        for (String l : now.leases().split(",")) {
            if (l.isEmpty() || baseline.leases().contains(l.split(":")[0])) continue;
            exec(Who.ROOT, py("release", l.split(":")[0]), Duration.ofSeconds(20));
        }
        if (!victimAlive() || !snapshot().leases().contains(victimLease)) {
            if (victim != null) kill(victim);
            startVictim();
        }
        for (String dev : baseline.drivers().keySet()) {
            String want = baseline.drivers().get(dev);
            String got = snapshot().drivers().get(dev);
            if (want.equals(got)) continue;
            int group = group(dev);
            if (got != null && got.startsWith("vfio-pci")) {
                exec(Who.ROOT, curl("-XDELETE", "-H", "Content-Type: application/json", url("/api/v1/bindings/" + group)), Duration.ofSeconds(20));
            } else if (want.startsWith("vfio-pci")) {
                exec(Who.ROOT, curl("-XPOST", "-H", "Content-Type: application/json", "-d", "{\"group\":" + group + "}", url("/api/v1/bindings")), Duration.ofSeconds(20));
            }
        }
        exec(Who.ROOT, py("policy-reload"), Duration.ofSeconds(20));
    }

    /** The generated btrfs members are the NVMe controllers beyond the demo's boot and data disks; the second one. */
    private String btrfsSecondMember() throws IOException {
        List<String> extra = new ArrayList<>();
        try (Stream<Path> devs = Files.list(host.resolve("sys/bus/pci/devices"))) {
            for (Path d : devs.sorted().toList()) {
                Path link = d.resolve("driver");
                String a = d.getFileName().toString();
                if (Files.isSymbolicLink(link) && Files.readSymbolicLink(link).getFileName().toString().equals("nvme")
                        && !a.equals(BOOT_NVME) && !a.equals("0000:02:00.0")) extra.add(a);
            }
        }
        if (extra.size() < 2) throw new IllegalStateException("the generated btrfs has no second member: " + extra);
        return extra.get(1);
    }

    int group(String address) throws IOException {
        return Integer.parseInt(Files.readSymbolicLink(host.resolve("sys/bus/pci/devices/" + address + "/iommu_group")).getFileName().toString());
    }

    /** Waits until leases other than those in {@code baseline} are gone (a client's exit ends its lease). */
    void awaitLeases(State baseline, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (snapshot().leases().equals(baseline.leases())) return;
            Thread.sleep(200);
        }
    }

    /** Waits until fd.sock answers a made-up ticket quickly again (after a flood). */
    boolean awaitFdSocket(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Result r = exec(Who.ROOT, py("fd-ticket", "health-check"), Duration.ofSeconds(3));
            if (r.stdout().contains("FD reply") && r.millis() < 2000) return true;
        }
        return false;
    }

    String daemonLog() {
        try {
            return Files.readString(dir.resolve("daemon.log"));
        } catch (IOException e) {
            return "(no daemon log: " + e.getMessage() + ")";
        }
    }

    private void awaitDaemon() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            if (!daemon.isAlive()) throw new IllegalStateException("the daemon exited (" + daemon.exitValue() + "):\n" + daemonLog());
            if (Files.exists(run.resolve("api.sock")) && Files.exists(run.resolve("fd.sock"))) {
                Result r = exec(Who.ROOT, curl(url("/actuator/health")), Duration.ofSeconds(5));
                if (r.stdout().contains("HTTP 200")) return;
            }
            Thread.sleep(300);
        }
        throw new IllegalStateException("the daemon did not come up within 120 s:\n" + daemonLog());
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    static String sha256(Path f) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path src : s.toList()) {
                Path dst = to.resolve(from.relativize(src).toString());
                if (Files.isDirectory(src)) Files.createDirectories(dst);
                else Files.copy(src, dst, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static void worldReadable(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            s.forEach(p -> {
                try {
                    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    @Override
    public void close() throws Exception {
        if (victim != null) {
            try (OutputStream o = victim.getOutputStream()) {
                o.write("release\n".getBytes(StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // gone already
            }
            if (!victim.waitFor(10, TimeUnit.SECONDS)) kill(victim);
        }
        if (daemon != null) {
            daemon.destroy(); // SIGTERM: the daemon shuts down as under systemd
            if (!daemon.waitFor(20, TimeUnit.SECONDS)) kill(daemon);
        }
    }
}
