package io.vfiobroker.policy;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.interrupts.InterruptChips;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class PolicyEngineTest {

    @TempDir
    Path dir;

    private static final String EDU_FOR_ALICE = """
            version: 1
            rules:
              - name: edu
                action: allow
                devices: {vendorDevice: "1234:11e8"}
                principals: {user: alice}
            """;

    private Explanation explain(Path root, String yaml, Principal who, PciAddress a) {
        Policy p = PolicyParser.parse(yaml, "t");
        HostInventory inv = Hosts.inventory(root);
        return PolicyEngine.evaluate(p, who, a, inv, InterruptChips.read(new io.vfiobroker.host.LinuxSysfsHost(root)), new io.vfiobroker.host.LinuxAccounts(root).now());
    }

    private Decision decide(Path root, String yaml, Principal who, PciAddress a) {
        return explain(root, yaml, who, a).decision();
    }

    @Test
    void aSafeDeviceIsGrantedWithTheRulesLimits() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        Decision d = decide(root, EDU_FOR_ALICE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(d).isInstanceOf(Decision.Allowed.class);
        Decision.Allowed a = (Decision.Allowed) d;
        assertThat(a.rule()).isEqualTo("edu");
        assertThat(a.unsafeInterrupts()).isFalse();
        assertThat(a.limits()).isEqualTo(Limits.BUILT_IN);
        assertThat(a.reason()).startsWith("0000:01:00.0 for uid 1000 (alice), gid 1000 is granted by rule 'edu'; 0000:01:00.0 is behind dmar0, which remaps");
    }

    @Test
    void nobodyElseGetsIt_defaultDeny() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        Decision d = decide(root, EDU_FOR_ALICE, Principal.of(1001, 1001), Hosts.EDU);
        assertThat(d).isEqualTo(new Decision.Refused("no rule grants 0000:01:00.0 for uid 1001 (bob), gid 1001, so default-deny refuses it", "default-deny"));
        assertThat(decide(root, EDU_FOR_ALICE, Principal.of(1000, 1000), Hosts.VF0).rule()).isEqualTo(Decision.DEFAULT_DENY);
    }

    @Test
    void withoutInterruptRemappingTheRefusalNamesDeviceUnitEvidenceAndRule() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_NO_IR);
        Decision d = decide(root, EDU_FOR_ALICE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(d).isEqualTo(new Decision.Refused("0000:01:00.0 is behind dmar0, which does not remap interrupts"
                + " (intel-iommu/ecap 0xf050d2 has IR (bit 3) clear); rule 'edu' does not set allowUnsafeInterrupts", "edu"));
    }

    private static final String EDU_UNSAFE = """
            version: 1
            rules:
              - name: edu
                action: allow
                devices: {vendorDevice: "1234:11e8"}
                principals: {uid: 1000}
                limits: {allowUnsafeInterrupts: true, backend: legacy}
            """;

    @Test
    void unsafeAllowedByPolicyButRefusedByTheKernelSaysHowToFixIt() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_NO_IR);
        Decision d = decide(root, EDU_UNSAFE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(d).isInstanceOf(Decision.Refused.class);
        assertThat(d.rule()).isEqualTo("edu");
        assertThat(d.reason()).contains("does not remap interrupts").contains("rule 'edu' allows unsafe interrupts, but the kernel will refuse")
                .contains("VFIO_SET_IOMMU would fail with EPERM")
                .contains("echo Y > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
    }

    @Test
    void unsafeAllowedByPolicyAndKernelIsGrantedAndMarked() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_NO_IR);
        Hosts.allowUnsafeType1(root, true);
        Decision d = decide(root, EDU_UNSAFE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(d).isInstanceOf(Decision.Allowed.class);
        Decision.Allowed a = (Decision.Allowed) d;
        assertThat(a.unsafeInterrupts()).isTrue();
        assertThat(a.backends()).containsExactly(Backend.LEGACY);
        assertThat(a.reason()).contains("with UNSAFE interrupts").contains("does not remap interrupts");
    }

    @Test
    void eitherBackendIsNarrowedToTheOneWhoseKernelSwitchAllowsIt() {
        HostSpec spec = Hosts.spec(HostSpec.Iommu.INTEL_NO_IR).withIommufd(true);
        Path root = Hosts.generate(dir.resolve("h"), spec);
        Hosts.write(root, "sys/module/iommufd/parameters/allow_unsafe_interrupts", "Y\n");
        String yaml = EDU_UNSAFE.replace("backend: legacy", "backend: either");
        Decision.Allowed a = (Decision.Allowed) decide(root, yaml, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(a.backends()).containsExactly(Backend.IOMMUFD);
        assertThat(a.reason()).contains("backend iommufd only");
        // Legacy only, with only iommufd's switch open: the kernel would refuse VFIO_SET_IOMMU.
        Decision legacy = decide(root, EDU_UNSAFE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(legacy.allowed()).isFalse();
        // iommufd only, switch closed: names iommufd's ioctl.
        Hosts.write(root, "sys/module/iommufd/parameters/allow_unsafe_interrupts", "N\n");
        Decision fd = decide(root, EDU_UNSAFE.replace("backend: legacy", "backend: iommufd"), Principal.of(1000, 1000), Hosts.EDU);
        assertThat(fd.reason()).contains("iommufd has allow_unsafe_interrupts=N, so VFIO_DEVICE_BIND_IOMMUFD would fail with EPERM");
    }

    @Test
    void unknownRemappingWithThePolicysBlessingIsGrantedWithAWarning() throws Exception {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        java.nio.file.Files.delete(root.resolve("proc/interrupts"));
        Decision refused = decide(root, EDU_FOR_ALICE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(refused.reason()).contains("/proc/interrupts is unreadable").contains("does not set allowUnsafeInterrupts");
        Decision.Allowed a = (Decision.Allowed) decide(root, EDU_UNSAFE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(a.unsafeInterrupts()).isTrue();
        assertThat(a.reason()).contains("the kernel may still refuse");
    }

    @Test
    void noIommuIsRefusedWhateverTheRuleSays() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.NONE);
        Decision d = decide(root, EDU_UNSAFE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(d.allowed()).isFalse();
        assertThat(d.reason()).startsWith("0000:01:00.0 has no IOMMU").contains("VFIO cannot isolate a device without an IOMMU, so rule 'edu' cannot grant it");
    }

    @Test
    void amdWithIrChipsIsSafe() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.AMD);
        Decision.Allowed a = (Decision.Allowed) decide(root, EDU_FOR_ALICE, Principal.of(1000, 1000), Hosts.EDU);
        assertThat(a.unsafeInterrupts()).isFalse();
        assertThat(a.reason()).contains("ivhd0");
    }

    @Test
    void aDenyRuleWinsWhereverItStands() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        String yaml = """
                version: 1
                rules:
                  - name: all-nics
                    action: allow
                    devices: {class: "02"}
                    principals: {any: true}
                  - name: not-vf1
                    action: deny
                    devices: {address: "0000:02:02.1"}
                    principals: {uid: 1000}
                """;
        Explanation e = explain(root, yaml, Principal.of(1000, 1000), Hosts.VF1);
        assertThat(e.decision()).isEqualTo(new Decision.Refused(
                "0000:02:02.1 for uid 1000 (alice), gid 1000 is refused by deny rule 'not-vf1' (line 7)", "not-vf1"));
        assertThat(e.chain()).extracting(Explanation.RuleTrace::outcome)
                .containsExactly(Explanation.Outcome.OVERRIDDEN, Explanation.Outcome.DECIDED);
        assertThat(decide(root, yaml, Principal.of(1001, 1001), Hosts.VF1).allowed()).isTrue();
        assertThat(decide(root, yaml, Principal.of(1000, 1000), Hosts.VF0).allowed()).isTrue();
    }

    @Test
    void theFirstMatchingAllowRuleSetsTheLimits() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        String yaml = """
                version: 1
                defaults: {memlockPerPrincipal: 8G}
                rules:
                  - name: vfs
                    action: allow
                    devices: {role: vf}
                    principals: {any: true}
                    limits: {maxDevices: 2, memlockPerLease: 1G}
                  - name: everything
                    action: allow
                    devices: {any: true}
                    principals: {any: true}
                    limits: {maxDevices: unlimited}
                """;
        Explanation vf = explain(root, yaml, Principal.of(5, 5), Hosts.VF0);
        assertThat(((Decision.Allowed) vf.decision()).limits()).isEqualTo(new Limits(2, 1L << 30, 8L << 30, Limits.ANY_BACKEND, false, false));
        assertThat(ExplanationView.of(vf).decision().limits().backend()).isEqualTo("either");
        assertThat(vf.chain()).extracting(Explanation.RuleTrace::outcome)
                .containsExactly(Explanation.Outcome.DECIDED, Explanation.Outcome.OVERRIDDEN);
        Explanation pf = explain(root, yaml, Principal.of(5, 5), Hosts.PF);
        assertThat(pf.decision().rule()).isEqualTo("everything");
        assertThat(pf.chain().get(0).why()).isEqualTo("role pf does not match");
        assertThat(pf.chain().get(0).deviceMatched()).isFalse();
    }

    @Test
    void groupsMatchByGidSupplementaryGidOrEtcGroupMembership() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        String yaml = """
                version: 1
                rules:
                  - name: dpdk
                    action: allow
                    devices: {role: vf}
                    principals: {group: dpdk}
                """;
        // bob is listed as a member of dpdk in /etc/group.
        Explanation bob = explain(root, yaml, Principal.of(1001, 1001), Hosts.VF0);
        assertThat(bob.decision().allowed()).isTrue();
        assertThat(bob.chain().get(0).why()).contains("user bob is a member of group dpdk");
        // alice is not, unless the caller passed 2000 among her groups (from /proc/<pid>/status) or as her gid.
        assertThat(decide(root, yaml, Principal.of(1000, 1000), Hosts.VF0).allowed()).isFalse();
        assertThat(decide(root, yaml, new Principal(1000, 1000, List.of(2000), null, null), Hosts.VF0).allowed()).isTrue();
        assertThat(decide(root, yaml, Principal.of(1000, 2000), Hosts.VF0).allowed()).isTrue();
        // An unknown uid has no name: only numeric criteria can match it.
        assertThat(decide(root, yaml, Principal.of(4242, 4242), Hosts.VF0).allowed()).isFalse();
    }

    @Test
    void kubernetesResourceSelectsRequestsFromTheDevicePlugin() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        String yaml = """
                version: 1
                rules:
                  - name: k8s
                    action: allow
                    devices: {vendorDevice: "8086:*", role: vf}
                    principals: {kubernetesResource: intel.com/x710_vf}
                """;
        assertThat(decide(root, yaml, new Principal(0, 0, List.of(), null, "intel.com/x710_vf"), Hosts.VF1).allowed()).isTrue();
        assertThat(decide(root, yaml, new Principal(0, 0, List.of(), null, "intel.com/other"), Hosts.VF1).allowed()).isFalse();
        assertThat(decide(root, yaml, Principal.of(0, 0), Hosts.VF1).allowed()).isFalse();
    }

    @Test
    void labelsNumaGroupsAndNamesSelectDevices() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        HostInventory inv = Hosts.inventory(root);
        int vf1Group = inv.device(Hosts.VF1).orElseThrow().iommuGroup();
        String yaml = """
                version: 1
                labels:
                  vfs: {vendorDevice: "8086:154c"}
                rules:
                  - name: by-label-and-group
                    action: allow
                    devices: {label: vfs, iommuGroup: %d, numaNode: -1}
                    principals: {any: true}
                """.formatted(vf1Group);
        assertThat(decide(root, yaml, Principal.of(1, 1), Hosts.VF1).allowed()).isTrue();
        assertThat(decide(root, yaml, Principal.of(1, 1), Hosts.VF0).allowed()).isFalse();
        assertThat(decide(root, yaml, Principal.of(1, 1), Hosts.PF).allowed()).isFalse();
        String byName = "version: 1\nrules:\n  - {name: n, action: allow, devices: {name: \"*virtual function*\"}, principals: {any: true}}\n";
        var vfName = inv.device(Hosts.VF0).orElseThrow().deviceName();
        // pci.ids may be absent on a build host; the glob then has nothing to match.
        assertThat(decide(root, byName, Principal.of(1, 1), Hosts.VF0).allowed()).isEqualTo(vfName != null && vfName.toLowerCase().contains("virtual function"));
        assertThat(decide(root, byName, Principal.of(1, 1), Hosts.EDU).allowed()).isFalse();
    }

    @Test
    void theBindingListsAreExplainedDenyWinning() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        String yaml = """
                version: 1
                binding:
                  allow: [{class: "02"}, {address: "0000:01:00.0"}]
                  deny: [{address: "0000:02:02.1"}]
                  protectedOverrides: ["0000:02:00.0"]
                rules: []
                """;
        assertThat(explain(root, yaml, Principal.of(1, 1), Hosts.VF0).binding()).isEqualTo(new io.vfiobroker.policy.BindingPolicy.Verdict(true,
                "0000:02:02.0 may be bound: it matches binding.allow[0]"));
        assertThat(explain(root, yaml, Principal.of(1, 1), Hosts.VF1).binding().reason())
                .isEqualTo("0000:02:02.1 matches binding.deny[0], so it is never bound to vfio-pci");
        assertThat(explain(root, yaml, Principal.of(1, 1), PciAddress.parse("0000:00:01.0")).binding().permitted()).isFalse();
        Policy p = PolicyParser.parse(yaml, "t");
        assertThat(p.binding().isProtectedOverride(Hosts.PF)).isTrue();
        assertThat(p.binding().isProtectedOverride(Hosts.VF0)).isFalse();
    }

    @Test
    void anAbsentDeviceIsRefusedByName() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_IR);
        Explanation e = explain(root, EDU_FOR_ALICE, Principal.of(1000, 1000), PciAddress.parse("0000:7f:00.0"));
        assertThat(e.decision()).isEqualTo(new Decision.Refused("no PCI device 0000:7f:00.0 on this host", Decision.NO_SUCH_DEVICE));
        assertThat(e.chain()).isEmpty();
    }

    @Test
    void theExplanationRendersAsTextAndJsonView() {
        Path root = Hosts.generate(dir.resolve("h"), HostSpec.Iommu.INTEL_NO_IR);
        ExplanationView v = ExplanationView.of(explain(root, EDU_FOR_ALICE, Principal.of(1000, 1000), Hosts.EDU));
        assertThat(v.decision().allowed()).isFalse();
        assertThat(v.interrupts().verdict()).isEqualTo("unsupported");
        assertThat(v.chain()).singleElement().satisfies(r -> {
            assertThat(r.outcome()).isEqualTo("decided");
            assertThat(r.why()).isEqualTo("vendorDevice 1234:11e8 matches; user alice is listed");
        });
        assertThat(v.text()).startsWith("REFUSED (rule edu)\n  0000:01:00.0 is behind dmar0")
                .contains("decided     allow edu                      line 3    vendorDevice 1234:11e8 matches; user alice is listed")
                .contains("interrupts: unsupported");
    }
}
