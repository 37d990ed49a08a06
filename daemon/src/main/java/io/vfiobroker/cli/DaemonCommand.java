package io.vfiobroker.cli;

import io.vfiobroker.DaemonApplication;
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

    /** A policy for the demo host: the invoking user (SUDO_UID, else 1000) may have X710 VFs and the edu device. */
    private static Path demoPolicy() {
        String uid = System.getenv().getOrDefault("SUDO_UID", "1000");
        if (!uid.matches("[0-9]{1,9}")) uid = "1000";
        try {
            Path dir = Files.createTempDirectory("vfio-broker-demo-policy-");
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
                          memlockPerLease: 512MiB
                    """.formatted(uid));
            return file;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write the demo policy: " + e.getMessage(), e);
        }
    }

    @Override
    public Integer call() {
        List<String> args = new ArrayList<>();
        if (source.demo) {
            args.add("--vfio-broker.demo=true");
            if (System.getProperty("vfio-broker.policy-file") == null && config == null) args.add("--vfio-broker.policy-file=" + demoPolicy());
        }
        if (source.root != null) {
            if (!Files.isDirectory(source.root)) throw new IllegalArgumentException("host root " + source.root + " is not a directory");
            args.add("--vfio-broker.root=" + source.root.toAbsolutePath());
        }
        if (port != null) args.add("--server.port=" + port);
        if (address != null) args.add("--server.address=" + address);
        if (config != null) args.add("--spring.config.additional-location=file:" + config.toAbsolutePath());
        DaemonApplication.start(args.toArray(String[]::new));
        started = true;
        return 0;
    }
}
