package io.vfiobroker.policy;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PolicyParserTest {

    private static List<PolicyError> errors(String yaml) {
        try {
            PolicyParser.parse(yaml, "test.yaml");
        } catch (PolicyException e) {
            return e.errors();
        }
        throw new AssertionError("expected the policy to be rejected:\n" + yaml);
    }

    private static PolicyError only(String yaml) {
        List<PolicyError> es = errors(yaml);
        assertThat(es).as("errors of:\n" + yaml).hasSize(1);
        return es.get(0);
    }

    @Test
    void theShippedExampleIsValidAndMeansWhatItsCommentsSay() throws Exception {
        Path example = Path.of("..", "deploy", "policy.example.yaml");
        Policy p = PolicyParser.parse(Files.readString(example), example.toString());
        assertThat(p.rules()).extracting(Rule::name)
                .containsExactly("never-the-gpu", "dpdk-vfs", "k8s-sriov", "ci-edu", "storage-team-nvme");
        Rule dpdk = p.rule("dpdk-vfs").orElseThrow();
        assertThat(dpdk.limits()).isEqualTo(new Limits(4, 2L << 30, 8L << 30, Limits.ANY_BACKEND, false, false));
        Rule edu = p.rule("ci-edu").orElseThrow();
        // Keys the rule leaves out come from defaults.
        assertThat(edu.limits()).isEqualTo(new Limits(1, 256L << 20, 1L << 30, Set.of(Backend.LEGACY), true, true));
        assertThat(p.rule("k8s-sriov").orElseThrow().limits().memlockBytesPerPrincipal()).isEqualTo(Limits.UNLIMITED);
        assertThat(p.rule("never-the-gpu").orElseThrow().limits()).isNull();
        assertThat(p.binding().protectedOverrides()).containsExactly(PciAddress.parse("0000:5e:00.0"));
        assertThat(p.binding().deny()).hasSize(2);
        assertThat(p.labels()).containsOnlyKeys("x710-vfs", "qemu-edu");
        assertThat(dpdk.line()).isGreaterThan(60);
    }

    @Test
    void backendIsLegacyIommufdOrEitherForBothAndIsSpeltBackSo() {
        assertThat(Limits.backends("either")).isEqualTo(Limits.ANY_BACKEND).containsExactly(Backend.LEGACY, Backend.IOMMUFD);
        assertThat(Limits.backends("IOMMUFD")).containsExactly(Backend.IOMMUFD);
        for (String s : List.of("legacy", "iommufd", "either")) {
            assertThat(new Limits(1, 1, 1, Limits.backends(s), false, false).backendName()).isEqualTo(s);
        }
        assertThatThrownBy(() -> new Limits(1, 1, 1, Set.of(), false, false)).hasMessageContaining("at least one");
        assertThatThrownBy(() -> Limits.BUILT_IN.backends().add(Backend.LEGACY)).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void scalarsAndListsAreBothAccepted() {
        Policy p = PolicyParser.parse("""
                version: 1
                rules:
                  - name: a
                    action: allow
                    devices: {address: "0000:01:00.0", vendorDevice: ["8086:154C", "1234:*"], class: 02}
                    principals: {uid: [1000, 1001], user: alice}
                """, "t");
        Rule r = p.rules().get(0);
        assertThat(r.devices().addresses()).containsExactly(PciAddress.parse("0000:01:00.0"));
        assertThat(r.devices().vendorDevices()).containsExactly("8086:154c", "1234:*");
        assertThat(r.devices().classes()).containsExactly("02");
        assertThat(r.principals().uids()).containsExactly(1000, 1001);
        assertThat(r.principals().users()).containsExactly("alice");
        assertThat(r.limits()).isEqualTo(Limits.BUILT_IN);
        assertThat(r.line()).isEqualTo(3);
    }

    @Test
    void unknownKeyNamesLineKeyAndSuggestsTheRightOne() {
        PolicyError e = only("""
                version: 1
                rules:
                  - name: a
                    action: allow
                    devices: {any: true}
                    principals: {any: true}
                    limits:
                      allowUnsafeInterupts: true
                """);
        assertThat(e.line()).isEqualTo(8);
        assertThat(e.column()).isEqualTo(7);
        assertThat(e.key()).isEqualTo("rules[0].limits.allowUnsafeInterupts");
        assertThat(e.message()).startsWith("unknown key 'allowUnsafeInterupts' (did you mean 'allowUnsafeInterrupts'?)");
        assertThat(e.toString()).startsWith("line 8, column 7, rules[0].limits.allowUnsafeInterupts: unknown key");
    }

    @Test
    void badValuesNameTheirLineAndKey() {
        record Case(String yaml, int line, String key, String message) {
        }
        String head = "version: 1\nrules:\n  - name: a\n    action: allow\n";
        List<Case> cases = List.of(
                new Case(head + "    devices: {address: 0000:zz:00.0}\n    principals: {any: true}\n", 5, "rules[0].devices.address",
                        "invalid PCI address '0000:zz:00.0'"),
                new Case(head + "    devices: {vendorDevice: intel}\n    principals: {any: true}\n", 5, "rules[0].devices.vendorDevice",
                        "'intel' is not 'vvvv:dddd'"),
                new Case(head + "    devices: {class: 2}\n    principals: {any: true}\n", 5, "rules[0].devices.class", "'2' is not 2, 4 or 6 hex digits"),
                new Case(head + "    devices: {role: vfs}\n    principals: {any: true}\n", 5, "rules[0].devices.role", "'vfs' is not one of pf, vf, plain"),
                new Case(head + "    devices: {numaNode: [0, x]}\n    principals: {any: true}\n", 5, "rules[0].devices.numaNode[1]", "'x' is not a whole number"),
                new Case(head + "    devices: {iommuGroup: -3}\n    principals: {any: true}\n", 5, "rules[0].devices.iommuGroup", "-3 is out of range"),
                new Case(head + "    devices: {label: nics}\n    principals: {any: true}\n", 5, "rules[0].devices.label", "no label 'nics' is defined"),
                new Case(head + "    devices: {}\n    principals: {any: true}\n", 5, "rules[0].devices", "selects nothing"),
                new Case(head + "    devices: {any: true}\n    principals: {uid: alice}\n", 6, "rules[0].principals.uid", "'alice' is not a whole number"),
                new Case(head + "    devices: {any: true}\n    principals: {kubernetesResource: x710}\n", 6, "rules[0].principals.kubernetesResource", "is not a resource name"),
                new Case(head + "    devices: {any: true}\n    principals: {any: yes}\n", 6, "rules[0].principals.any", "'yes' is not true or false"),
                new Case(head + "    devices: {any: true}\n    principals: {any: true}\n    limits: {backend: vfio}\n", 7, "rules[0].limits.backend",
                        "'vfio' is not one of legacy, iommufd, either"),
                new Case(head + "    devices: {any: true}\n    principals: {any: true}\n    limits: {memlockPerLease: 2 gigs}\n", 7,
                        "rules[0].limits.memlockPerLease", "'2 gigs' is not a size"),
                new Case(head + "    devices: {any: true}\n    principals: {any: true}\n    limits: {maxDevices: 0}\n", 7, "rules[0].limits.maxDevices", "0 is out of range"),
                new Case(head + "    devices: {any: true}\n    principals: {any: true}\n    limits: {memlockPerLease: 2G, memlockPerPrincipal: 1G}\n", 7,
                        "rules[0].limits.memlockPerLease", "is larger than memlockPerPrincipal"),
                new Case(head + "    devices: {any: true}\n", 3, "rules[0].principals", "missing"),
                new Case("version: 2\n", 1, "version", "2 is out of range (1..1)"),
                new Case("rules: []\n", 1, "version", "missing"),
                new Case("version: 1\nrules: {a: 1}\n", 2, "rules", "expected a list"),
                new Case("version: 1\nbinding: {protectedOverrides: [0000:01:00.0, nope]}\n", 2, "binding.protectedOverrides[1]", "invalid PCI address 'nope'"),
                new Case("version: 1\nlabels: {a: {label: b}}\n", 2, "labels.a.label", "a label cannot refer to another label"));
        for (Case c : cases) {
            PolicyError e = only(c.yaml());
            assertThat(e.line()).as(c.yaml()).isEqualTo(c.line());
            assertThat(e.key()).as(c.yaml()).isEqualTo(c.key());
            assertThat(e.message()).as(c.yaml()).contains(c.message());
        }
    }

    @Test
    void ruleLevelMistakes() {
        String any = "    devices: {any: true}\n    principals: {any: true}\n";
        PolicyError dup = only("version: 1\nrules:\n  - name: a\n    action: allow\n" + any + "  - name: a\n    action: allow\n" + any);
        assertThat(dup.line()).isEqualTo(7);
        assertThat(dup.message()).contains("used by an earlier rule");
        PolicyError reserved = only("version: 1\nrules:\n  - name: default-deny\n    action: deny\n" + any);
        assertThat(reserved.message()).contains("reserved");
        PolicyError limitsOnDeny = only("version: 1\nrules:\n  - name: a\n    action: deny\n" + any + "    limits: {maxDevices: 2}\n");
        assertThat(limitsOnDeny.key()).isEqualTo("rules[0].limits");
        assertThat(limitsOnDeny.message()).contains("deny rule grants nothing");
        PolicyError noAction = only("version: 1\nrules:\n  - name: a\n" + any);
        assertThat(noAction.key()).isEqualTo("rules[0].action");
        PolicyError anyPlus = only("version: 1\nrules:\n  - name: a\n    action: allow\n    devices: {any: true, class: '02'}\n    principals: {any: true}\n");
        assertThat(anyPlus.message()).contains("other criteria beside it would be ignored");
        PolicyError duplicateKey = only("version: 1\nversion: 1\n");
        assertThat(duplicateKey.line()).isEqualTo(2);
        assertThat(duplicateKey.message()).contains("duplicate key 'version' (first on line 1)");
    }

    @Test
    void everyErrorIsReportedNotJustTheFirst() {
        List<PolicyError> es = errors("""
                version: 1
                colour: blue
                rules:
                  - name: a
                    action: permit
                    devices: {class: x}
                    principals: {uid: -1}
                """);
        assertThat(es).extracting(PolicyError::line).containsExactly(2, 5, 6, 7);
    }

    @Test
    void brokenYamlAndEmptyFilesHaveAPlace() {
        PolicyError syntax = only("version: 1\nrules:\n  - name: a\n   action: allow\n");
        assertThat(syntax.line()).isEqualTo(4);
        assertThat(syntax.message()).startsWith("not valid YAML");
        PolicyError tab = only("version: 1\nrules:\n\t- name: a\n");
        assertThat(tab.line()).isEqualTo(3);
        assertThat(only("").message()).contains("empty");
        assertThat(only("# only a comment\n").message()).contains("empty");
        assertThat(only("- a\n- b\n").message()).contains("expected a mapping");
    }

    @Test
    void yamlTagsCannotBuildObjects() {
        // The node API never constructs, so a Java type tag is just an oddly tagged mapping: not a mapping we expect.
        List<PolicyError> es = errors("version: 1\nrules: !!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL [\"http://x\"]]]]\n");
        assertThat(es).isNotEmpty();
        assertThatThrownBy(() -> PolicyParser.parse("version: 1\nlabels: &a {x: *a}\n", "t")).isInstanceOf(PolicyException.class);
    }
}
