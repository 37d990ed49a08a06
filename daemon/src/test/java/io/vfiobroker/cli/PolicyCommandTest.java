package io.vfiobroker.cli;

import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.json.DomainJson;
import io.vfiobroker.policy.Hosts;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import tools.jackson.databind.JsonNode;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class PolicyCommandTest {

    @TempDir
    Path dir;
    StringWriter out;
    StringWriter err;

    private int run(String... args) {
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

    private Path policy(String text) throws Exception {
        Path p = dir.resolve("policy.yaml");
        Files.writeString(p, text);
        return p;
    }

    static final String EDU = """
            version: 1
            rules:
              - name: ci-edu
                action: allow
                devices: {vendorDevice: "1234:11e8"}
                principals: {uid: 1000}
                limits: {allowUnsafeInterrupts: true, backend: legacy}
            """;

    @Test
    void checkAcceptsTheShippedExample() {
        assertThat(run("policy", "check", Path.of("..", "deploy", "policy.example.yaml").toString())).isZero();
        assertThat(out.toString()).contains("valid, 5 rules (1 deny)");
    }

    @Test
    void checkReportsFileLineColumnKeyAndExitsOne() throws Exception {
        Path p = policy("version: 1\nrules:\n  - name: a\n    action: allow\n    devices: {clas: '02'}\n    principals: {any: true}\n");
        assertThat(run("policy", "check", p.toString())).isEqualTo(1);
        assertThat(err.toString()).startsWith(p + ":5:15: rules[0].devices.clas: unknown key 'clas' (did you mean 'class'?)");
        assertThat(run("policy", "check", dir.resolve("nope.yaml").toString())).isEqualTo(1);
        assertThat(err.toString()).contains("does not exist");
        assertThat(run("policy", "check")).isEqualTo(2);
        assertThat(run("policy")).isEqualTo(2);
    }

    @Test
    void explainOnAnIrHostAllowsAndShowsTheChain() throws Exception {
        Path root = Hosts.generate(dir.resolve("host"), HostSpec.Iommu.INTEL_IR);
        Path p = policy(EDU);
        // --gid comes from the host's etc/passwd.
        assertThat(run("policy", "explain", "--uid", "1000", "--policy", p.toString(), "--root", root.toString(), "0000:01:00.0")).isZero();
        assertThat(out.toString()).startsWith("ALLOWED (rule ci-edu)\n  0000:01:00.0 for uid 1000 (alice), gid 1000 is granted")
                .contains("limits: maxDevices=1 memlockPerLease=256MiB memlockPerPrincipal=1GiB backend=legacy keepBound=false unsafeInterrupts=false")
                .contains("decided     allow ci-edu")
                .contains("interrupts: supported");
    }

    @Test
    void explainWithIntremapOffRefusesWithTheKernelSwitchAndExitsOne() throws Exception {
        Path root = Hosts.generate(dir.resolve("host"), HostSpec.Iommu.INTEL_NO_IR);
        Path p = policy(EDU);
        assertThat(run("policy", "explain", "--uid", "1000", "--gid", "1000", "--policy", p.toString(), "--root", root.toString(), "0000:01:00.0"))
                .isEqualTo(1);
        assertThat(out.toString()).startsWith("REFUSED (rule ci-edu)").contains("VFIO_SET_IOMMU would fail with EPERM");
        Hosts.allowUnsafeType1(root, true);
        assertThat(run("policy", "explain", "--json", "--uid", "1000", "--policy", p.toString(), "--root", root.toString(), "0000:01:00.0"))
                .isZero();
        JsonNode j = DomainJson.mapper().readTree(out.toString());
        assertThat(j.get("decision").get("allowed").asBoolean()).isTrue();
        assertThat(j.get("decision").get("unsafeInterrupts").asBoolean()).isTrue();
        assertThat(j.get("decision").get("limits").get("backend").asString()).isEqualTo("legacy");
        assertThat(j.get("interrupts").get("verdict").asString()).isEqualTo("unsupported");
        assertThat(j.get("chain").get(0).get("outcome").asString()).isEqualTo("decided");
    }

    @Test
    void explainWithoutAPolicyFileIsDefaultDeny() {
        Path root = Hosts.generate(dir.resolve("host"), HostSpec.Iommu.INTEL_IR);
        assertThat(run("policy", "explain", "--uid", "1000", "--policy", dir.resolve("none.yaml").toString(), "--root", root.toString(),
                "0000:01:00.0")).isEqualTo(1);
        assertThat(out.toString()).startsWith("policy: " + dir.resolve("none.yaml") + " does not exist: default deny\nREFUSED (rule default-deny)");
    }

    @Test
    void explainUsageErrors() throws Exception {
        Path root = Hosts.generate(dir.resolve("host"), HostSpec.Iommu.INTEL_IR);
        Path p = policy(EDU);
        assertThat(run("policy", "explain", "--uid", "4242", "--policy", p.toString(), "--root", root.toString(), "0000:01:00.0")).isEqualTo(2);
        assertThat(err.toString()).contains("uid 4242 is not in").contains("give --gid");
        assertThat(run("policy", "explain", "--policy", p.toString(), "0000:01:00.0")).isEqualTo(2);
        assertThat(run("policy", "explain", "--uid", "1000", "--policy", p.toString(), "--root", root.toString(), "0000:zz:00.0")).isEqualTo(1);
        assertThat(err.toString()).contains("invalid PCI address '0000:zz:00.0'");
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "version: 3\n");
        assertThat(run("policy", "explain", "--uid", "1000", "--policy", bad.toString(), "--root", root.toString(), "0000:01:00.0")).isEqualTo(1);
        assertThat(err.toString()).contains("line 1, column 10, version: 3 is out of range");
    }

    @Test
    void explainWorksReadOnlyOnThisMachinesRealRoot() throws Exception {
        // Linux with PCI sysfs is what the suite runs on (the daemon needs it too): no skip when it is missing.
        assertThat(Path.of("/sys/bus/pci/devices")).as("PCI sysfs").isDirectory();
        String first;
        try (var s = Files.list(Path.of("/sys/bus/pci/devices"))) {
            first = s.map(p -> p.getFileName().toString()).sorted().findFirst().orElse(null);
        }
        assertThat(first).as("this machine has no PCI device").isNotNull();
        Path p = policy("version: 1\nrules:\n  - {name: all, action: allow, devices: {any: true}, principals: {uid: 0}}\n");
        int code = run("policy", "explain", "--uid", "0", "--gid", "0", "--policy", p.toString(), "--root", "/", first);
        assertThat(code).as(out + "\n" + err).isIn(0, 1);
        assertThat(out.toString()).matches("(?s)(ALLOWED|REFUSED) \\(rule all\\)\n  .*interrupts: .*");
    }
}
