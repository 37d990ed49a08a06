package io.vfiobroker.cli;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.OwnerLock;
import io.vfiobroker.controlplane.ControlPlane;
import io.vfiobroker.grpc.Authz;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** bind, release and status: through a running daemon when one answers, offline with the policy's binding rules when none does. */
class BindingCliTest {

    static final String VF = "0000:07:02.1";   // iavf, IOMMU group 15
    static final String EDU = "0000:06:00.0";  // IOMMU group 11
    static final String DENY_VFS = """
            version: 1
            binding:
              deny:
                - vendorDevice: "8086:154c"
            rules: []
            """;

    @TempDir
    Path dir;
    StringWriter out;
    StringWriter err;

    int run(String... args) {
        out = new StringWriter();
        err = new StringWriter();
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setExecutionExceptionHandler((e, c, p) -> {
            c.getErr().println("vfio-broker: " + e.getMessage());
            return 1;
        });
        return cl.execute(args);
    }

    static String driver(Path root, String address) {
        return new SimulatedKernelHost(root).linkName("sys/bus/pci/devices/" + address + "/driver").orElse("none");
    }

    // ---- with a daemon --------------------------------------------------------------------------------------

    @Test
    void withADaemonRunningBindStatusAndReleaseGoThroughIt() throws Exception {
        try (ControlPlane cp = new ControlPlane()) {
            Path sock = cp.serveGrpc(Authz.rootOnly());
            // No policy file for the CLI itself: if it went offline, nothing would say who asked.
            String[] common = {"--root", cp.root.toString(), "--run-dir", sock.getParent().toString(), "--policy", dir.resolve("none.yaml").toString()};

            assertThat(run(concat(new String[]{"bind", VF}, common))).as(err.toString()).isZero();
            assertThat(out.toString()).startsWith("(via the daemon at " + sock + ")").contains("bind IOMMU group 15: done")
                    .contains("move from iavf to vfio-pci");
            assertThat(driver(cp.root, VF)).isEqualTo("vfio-pci");
            List<AuditLog.Record> bound = cp.audit.readAll().stream().filter(r -> r.event().equals("binding-bound")).toList();
            assertThat(bound).singleElement().satisfies(r ->
                    assertThat(r.fields().get("by")).isEqualTo("uid 0 (pid " + ProcessHandle.current().pid() + ")"));

            assertThat(run(concat(new String[]{"status", "--json"}, common))).isZero();
            assertThat(err.toString()).contains("(via the daemon at");
            assertThat(out.toString()).contains("\"device\"").contains(VF).contains("\"originalDriver\" : \"iavf\"");

            assertThat(run(concat(new String[]{"release", VF}, common))).as(err.toString()).isZero();
            assertThat(out.toString()).startsWith("(via the daemon at").contains("restore to iavf");
            assertThat(driver(cp.root, VF)).isEqualTo("iavf");
            assertThat(cp.audit.readAll()).anyMatch(r -> r.event().equals("binding-released"));
        }
    }

    @Test
    void theDaemonsBindingDenyRuleRefusesTheCliBind() throws Exception {
        try (ControlPlane cp = new ControlPlane()) {
            Path sock = cp.serveGrpc(Authz.rootOnly());
            Files.writeString(cp.policy.source(), ControlPlane.POLICY.replace("version: 1\n", "version: 1\nbinding:\n  deny:\n    - vendorDevice: \"8086:154c\"\n"));
            cp.policy.reload();
            // The CLI's own --policy has no rules: only the daemon's deny can refuse.
            int rc = run("bind", VF, "--root", cp.root.toString(), "--run-dir", sock.getParent().toString(), "--simulate-kernel",
                    "--policy", dir.resolve("none.yaml").toString());
            assertThat(rc).isEqualTo(1);
            assertThat(err.toString()).contains("the daemon at " + sock).contains("FAILED_PRECONDITION").contains("binding.deny[0]");
            assertThat(out.toString()).doesNotContain("offline");
            assertThat(driver(cp.root, VF)).isEqualTo("iavf");
        }
    }

    @Test
    void theDaemonRefusesACliReleaseOfAGroupALeaseUses() throws Exception {
        try (ControlPlane cp = new ControlPlane()) {
            Path sock = cp.serveGrpc(Authz.rootOnly());
            Lease lease = cp.leases.acquire(new Caller((int) ProcessHandle.current().pid(), 0, 0), List.of(EDU), null, 0).getKey();
            int rc = run("release", "--group", "11", "--root", cp.root.toString(), "--run-dir", sock.getParent().toString(), "--simulate-kernel");
            assertThat(rc).isEqualTo(1);
            assertThat(err.toString()).contains("in use by lease " + lease.id());
            assertThat(driver(cp.root, EDU)).isEqualTo("vfio-pci");
        }
    }

    // ---- without a daemon -----------------------------------------------------------------------------------

    Path host() {
        return HostTreeGenerator.generate(HostSpec.demo(), dir.resolve("host"));
    }

    @Test
    void offlineTheCliAppliesThePolicyFilesBindingRules() throws Exception {
        Path root = host();
        Path policy = dir.resolve("policy.yaml");
        Files.writeString(policy, DENY_VFS);
        String[] common = {"--root", root.toString(), "--simulate-kernel", "--policy", policy.toString()};

        assertThat(run(concat(new String[]{"bind", VF}, common))).isEqualTo(1);
        assertThat(err.toString()).contains("binding.deny[0]");
        assertThat(out.toString()).startsWith("(offline: no daemon at " + root.resolve("run/vfio-broker/api.sock"))
                .contains("binding rules of " + policy);
        assertThat(driver(root, VF)).isEqualTo("iavf");

        // The same command without the deny rule binds: the rule was what refused.
        Files.writeString(policy, "version: 1\nrules: []\n");
        assertThat(run(concat(new String[]{"bind", VF}, common))).as(err.toString()).isZero();
        assertThat(driver(root, VF)).isEqualTo("vfio-pci");
        assertThat(run(concat(new String[]{"release", VF}, common))).as(err.toString()).isZero();
        assertThat(out.toString()).startsWith("(offline:");
        assertThat(driver(root, VF)).isEqualTo("iavf");
    }

    @Test
    void offlineAnInvalidPolicyFileRefusesRatherThanBindingWithoutRules() throws Exception {
        Path root = host();
        Path policy = dir.resolve("policy.yaml");
        Files.writeString(policy, "version: 1\nbinding: {deny: [nonsense: 1]}\n");
        assertThat(run("bind", VF, "--root", root.toString(), "--simulate-kernel", "--policy", policy.toString())).isEqualTo(1);
        assertThat(err.toString()).contains("policy file " + policy + " is invalid");
        assertThat(driver(root, VF)).isEqualTo("iavf");
    }

    @Test
    void whileADaemonHoldsTheOwnerLockButDoesNotAnswerTheCliChangesNothing() throws Exception {
        Path root = host();
        Path state = root.resolve("var/lib/vfio-broker");
        try (OwnerLock daemon = OwnerLock.tryTake(state).orElseThrow()) {
            assertThat(run("bind", VF, "--root", root.toString(), "--simulate-kernel", "--policy", dir.resolve("none.yaml").toString())).isEqualTo(1);
            assertThat(err.toString()).contains("a daemon holds " + OwnerLock.file(state)).contains("not changing bindings");
            assertThat(driver(root, VF)).isEqualTo("iavf");
            // Reading is harmless, and says why it is offline.
            assertThat(run("status", "--root", root.toString())).isZero();
            assertThat(out.toString()).startsWith("(offline, read-only: a daemon holds").contains("no devices are bound");
        }
    }

    @Test
    void aSocketNobodyListensOnIsADaemonThatIsGone() throws Exception {
        Path root = host();
        Path run = Files.createTempDirectory(Path.of("/tmp"), "vb-stale-");
        Path sock = run.resolve("api.sock");
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(sock));
        }
        try {
            assertThat(Files.exists(sock)).isTrue();
            assertThat(run("bind", VF, "--root", root.toString(), "--run-dir", run.toString(), "--simulate-kernel",
                    "--policy", dir.resolve("none.yaml").toString())).as(err.toString()).isZero();
            assertThat(out.toString()).startsWith("(offline: nothing answers at " + sock);
            assertThat(driver(root, VF)).isEqualTo("vfio-pci");
        } finally {
            Files.deleteIfExists(sock);
            Files.deleteIfExists(run);
        }
    }

    @Test
    void everyBindingCommandAnswersHelp() {
        for (String cmd : List.of("bind", "release", "status")) {
            assertThat(run(cmd, "--help")).as(cmd).isZero();
            assertThat(out.toString()).as(cmd).contains("Usage: vfio-broker " + cmd).contains("--run-dir").contains("--policy");
        }
    }

    static String[] concat(String[] a, String[] b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
