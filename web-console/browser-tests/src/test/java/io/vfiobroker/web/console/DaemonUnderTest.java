package io.vfiobroker.web.console;

import io.vfiobroker.DaemonApplication;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The real daemon, in this JVM, on a random loopback port, serving a host tree this test generated —
 * so a test can change the "hardware" under the daemon and watch the console follow.
 */
final class DaemonUnderTest implements AutoCloseable {

    final Path root;
    final Path policyFile;
    final String base;
    private final ConfigurableApplicationContext ctx;
    private final HttpClient http = HttpClient.newHttpClient();

    DaemonUnderTest() throws IOException {
        Path dir = Files.createTempDirectory("vfio-console-test-");
        root = dir.resolve("host");
        HostTreeGenerator.generate(HostSpec.demo(), root);
        policyFile = dir.resolve("policy.yaml");
        Files.writeString(policyFile, GOOD_POLICY);
        // The generated host has no VFIO driver: with simulate-kernel the daemon answers the VFIO calls from its kernel model.
        SpringApplication app = new SpringApplication(DaemonApplication.class);
        ctx = app.run(
                "--server.port=0",
                "--server.address=127.0.0.1",
                "--vfio-broker.root=" + root,
                // The generated tree reacts to sysfs writes (bind, unbind, drivers_probe) as a kernel would.
                "--vfio-broker.simulate-kernel=true",
                "--vfio-broker.state-dir=" + dir.resolve("state"),
                "--vfio-broker.policy-file=" + policyFile,
                // Reloads only when a test asks for one (the console's reload button).
                "--vfio-broker.policy-watch=false",
                "--vfio-broker.policy-sighup=false",
                // Graceful shutdown waits 30 s for the SSE streams the daemon never completes on stop.
                "--server.shutdown=immediate");
        base = "http://127.0.0.1:" + ctx.getEnvironment().getProperty("local.server.port");
    }

    /** This JVM's own ids: it is the lease holder in the tests (its VmLck is what the accounting reads). */
    static final int UID = id("Uid");
    static final int GID = id("Gid");

    static final String GOOD_POLICY = """
            version: 1
            rules:
              - name: console-test-vfs
                action: allow
                devices:
                  vendorDevice: "8086:154c"
                principals:
                  uid: UID_PLACEHOLDER
                limits:
                  memlockPerLease: unlimited
              - name: lab-edu
                action: allow
                devices:
                  vendorDevice: "1234:11e8"
                principals:
                  uid: 1000
            """.replace("UID_PLACEHOLDER", Integer.toString(UID));

    /** Status of a plain request, to learn which of the newer endpoints this daemon has. */
    int status(String method, String path, String jsonBody) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).header("Accept", "application/json");
        // A JSON content type on every state change: the daemon refuses form-like requests (CSRF).
        b = jsonBody == null ? b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.noBody())
                : b.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(jsonBody));
        return http.send(b.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    <T> T bean(Class<T> type) {
        return ctx.getBean(type);
    }

    /** Acquires {@code address} for this JVM and redeems the ticket, as a client would: an ACTIVE lease. */
    Lease lease(String address) {
        LeaseService leases = bean(LeaseService.class);
        Caller me = new Caller((int) ProcessHandle.current().pid(), UID, GID);
        var granted = leases.acquire(me, List.of(address), null, 0);
        return leases.redeem(granted.getValue(), me).lease();
    }

    private static int id(String field) {
        try {
            // "Uid:\t0\t0\t0\t0": the real id first.
            return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith(field + ":"))
                    .map(l -> Integer.parseInt(l.split("\\s+")[1])).findFirst().orElseThrow();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** What sysfs would show after `echo VALUE > .../driver_override`. */
    void writeDriverOverride(String address, String value) throws IOException {
        Files.writeString(root.resolve("sys/bus/pci/devices/" + address + "/driver_override"), value + "\n");
    }

    @Override
    public void close() {
        ctx.close();
    }
}
