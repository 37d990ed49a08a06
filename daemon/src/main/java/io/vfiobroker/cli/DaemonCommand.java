package io.vfiobroker.cli;

import io.vfiobroker.DaemonApplication;
import io.vfiobroker.host.LinuxProcesses;
import io.vfiobroker.hostgen.DemoHosts;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "daemon", description = "Run the broker daemon (REST on 127.0.0.1:8080 unless configured otherwise).")
final class DaemonCommand implements Callable<Integer> {

    private static volatile boolean started;

    static boolean started() {
        return started;
    }

    static final class Source {
        @Option(names = "--root", paramLabel = "DIR", description = "host root (default /)")
        Path root;

        @Option(names = "--demo", description = "serve a generated demo host (no VFIO hardware needed)")
        boolean demo;
    }

    @ArgGroup(exclusive = true)
    Source source = new Source();

    @Option(names = "--port", description = "HTTP port (default 8080)")
    Integer port;

    @Option(names = "--address", description = "HTTP listen address (default 127.0.0.1)")
    String address;

    @Option(names = "--config", paramLabel = "FILE", description = "extra Spring configuration file (properties or YAML)")
    Path config;

    /**
     * A policy for the demo host: the invoking user (SUDO_UID, else 1000) may have X710 VFs and the edu device. A lease's
     * memlock limit is set with prlimit, which needs CAP_SYS_RESOURCE for another user's process: where this daemon
     * lacks it (a container that withholds it), the demo sets no limit rather than refuse every lease, and says so.
     */
    private static Path demoPolicy(Path dir) {
        String uid = System.getenv().getOrDefault("SUDO_UID", "1000");
        if (!uid.matches("[0-9]{1,9}")) uid = "1000";
        boolean prlimit = hasCapSysResource();
        if (!prlimit) {
            System.err.println("vfio-broker: this daemon lacks CAP_SYS_RESOURCE, so it cannot set the memlock limit of another "
                    + "user's process: the demo policy sets none (memlockPerLease: unlimited). The systemd unit grants it.");
        }
        try {
            Path file = dir.resolve("policy.yaml");
            Files.writeString(file, """
                    # Demo policy: written by 'vfio-broker daemon --demo'.
                    version: 1
                    binding:
                      deny:
                        - class: "06"
                    rules:
                      - name: never-the-gpu
                        action: deny
                        devices:
                          class: "03"
                        principals:
                          any: true
                      - name: demo-vfs
                        action: allow
                        devices:
                          vendorDevice: ["8086:154c", "1234:11e8"]
                        principals:
                          uid: %s
                        limits:
                          maxDevices: 4
                          memlockPerLease: %s
                    """.formatted(uid, prlimit ? "512MiB" : "unlimited  # the daemon lacks CAP_SYS_RESOURCE"));
            return file;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write the demo policy: " + e.getMessage(), e);
        }
    }

    private static boolean hasCapSysResource() {
        // Unknown: keep the limit, and a lease that cannot be limited is refused with a message naming the capability.
        return LinuxProcesses.REAL.ownStatus().map(s -> s.hasCapability(24)).orElse(true);
    }

    private static void deleteTree(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException | java.io.UncheckedIOException ignored) {
            // best effort: the start-up failure is what the user needs to see
        }
    }

    @Override
    public Integer call() {
        List<String> args = new ArrayList<>();
        Path demoDir = null;
        if (source.demo) {
            args.add("--vfio-broker.demo=true");
            // One directory for the generated host and the policy: the daemon makes it world-traversable and deletes it on exit.
            Path dir;
            try {
                dir = demoDir = DemoHosts.newDirectory();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot create the demo directory: " + e.getMessage(), e);
            }
            args.add("--vfio-broker.demo-dir=" + dir);
            DemoHosts.startWriting(dir.resolve("host"));
            if (System.getProperty("vfio-broker.policy-file") == null && config == null) args.add("--vfio-broker.policy-file=" + demoPolicy(dir));
        }
        if (source.root != null) {
            if (!Files.isDirectory(source.root)) throw new IllegalArgumentException("host root " + source.root + " is not a directory");
            args.add("--vfio-broker.root=" + source.root.toAbsolutePath());
        }
        if (port != null) args.add("--server.port=" + port);
        if (address != null) args.add("--server.address=" + address);
        if (config != null) args.add("--spring.config.additional-location=file:" + config.toAbsolutePath());
        try {
            DaemonApplication.start(args.toArray(String[]::new));
        } catch (RuntimeException | Error e) {
            if (demoDir != null) { // a daemon that did not start leaves no demo behind
                DemoHosts.settle(demoDir.resolve("host"));
                deleteTree(demoDir);
            }
            throw e;
        }
        started = true;
        return 0;
    }
}
