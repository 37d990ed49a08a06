package io.vfiobroker.policy;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.host.Accounts;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.interrupts.InterruptChips;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random policies × every device of a generated host × a pool of principals, checked against a separate,
 * deliberately plain model of the documented precedence (deny wins anywhere; else the first allow; else
 * default deny). Seeded: a failure message carries the seed and the policy text to reproduce it.
 */
class PolicyPropertyTest {

    private static final long SEED = 0x5EED_7001L;
    private static final int POLICIES = 250;

    @TempDir
    static Path dir;
    static Path root;
    static HostInventory inventory;
    static InterruptChips chips;
    static Accounts accounts;

    // What the generated host's etc/passwd and etc/group say (Hosts.generate).
    static final Map<Integer, String> USERS = Map.of(0, "root", 1000, "alice", 1001, "bob");
    static final Map<String, Integer> GROUP_IDS = Map.of("root", 0, "alice", 1000, "bob", 1001, "dpdk", 2000, "storage", 2001);
    static final Map<String, Set<String>> MEMBERS = Map.of("dpdk", Set.of("bob"));

    static final int[] UIDS = {0, 1000, 1001, 4242};
    static final int[] GIDS = {0, 1000, 1001, 2000, 2001, 4242};
    static final String[] USER_NAMES = {"root", "alice", "bob", "carol"};
    static final String[] GROUP_NAMES = {"dpdk", "storage", "alice", "nogroup"};
    static final String[] RESOURCES = {"intel.com/x710_vf", "example.com/edu"};

    @BeforeAll
    static void host() {
        root = Hosts.generate(dir.resolve("h"), HostSpec.demo().withIommu(HostSpec.Iommu.INTEL_IR));
        inventory = Hosts.inventory(root);
        chips = InterruptChips.read(new io.vfiobroker.host.LinuxSysfsHost(root));
        accounts = new io.vfiobroker.host.LinuxAccounts(root).now();
    }

    /** A criterion as the test models it: YAML text plus an independent predicate. */
    record Crit(String yaml, java.util.function.Predicate<Device> dev, java.util.function.Predicate<Principal> who) {
    }

    record GenRule(String name, boolean deny, List<Crit> devices, List<Crit> principals) {
        boolean matches(Device d, Principal p) {
            return devices.stream().allMatch(c -> c.dev().test(d)) && principals.stream().anyMatch(c -> c.who().test(p));
        }

        String yaml() {
            StringBuilder b = new StringBuilder("  - name: ").append(name).append("\n    action: ").append(deny ? "deny" : "allow");
            b.append("\n    devices: {").append(String.join(", ", devices.stream().map(Crit::yaml).toList())).append("}");
            b.append("\n    principals: {").append(String.join(", ", principals.stream().map(Crit::yaml).toList())).append("}\n");
            return b.toString();
        }
    }

    static String policyYaml(List<GenRule> rules) {
        StringBuilder b = new StringBuilder("version: 1\nrules:");
        if (rules.isEmpty()) return b.append(" []\n").toString();
        b.append('\n');
        rules.forEach(r -> b.append(r.yaml()));
        return b.toString();
    }

    static Crit deviceCrit(SplittableRandom rnd) {
        Device sample = inventory.devices().get(rnd.nextInt(inventory.devices().size()));
        return switch (rnd.nextInt(7)) {
            case 0 -> new Crit("address: \"" + sample.address() + "\"", d -> d.address().equals(sample.address()), null);
            case 1 -> new Crit("vendorDevice: \"" + sample.vendorDevice() + "\"", d -> d.vendorDevice().equals(sample.vendorDevice()), null);
            case 2 -> {
                String prefix = sample.pciClass().hex().substring(0, 2 * (1 + rnd.nextInt(3)));
                yield new Crit("class: \"" + prefix + "\"", d -> d.pciClass().hex().startsWith(prefix), null);
            }
            case 3 -> {
                String role = List.of("pf", "vf", "plain").get(rnd.nextInt(3));
                yield new Crit("role: " + role, d -> role.equals(d.isVirtualFunction() ? "vf" : d.sriov() != null ? "pf" : "plain"), null);
            }
            case 4 -> new Crit("numaNode: " + sample.numaNode(), d -> d.numaNode() == sample.numaNode(), null);
            case 5 -> sample.iommuGroup() == null ? new Crit("any: true", d -> true, null)
                    : new Crit("iommuGroup: " + sample.iommuGroup(), d -> sample.iommuGroup().equals(d.iommuGroup()), null);
            default -> new Crit("any: true", d -> true, null);
        };
    }

    static Crit principalCrit(SplittableRandom rnd) {
        return switch (rnd.nextInt(6)) {
            case 0 -> {
                int uid = UIDS[rnd.nextInt(UIDS.length)];
                yield new Crit("uid: " + uid, null, p -> p.uid() == uid);
            }
            case 1 -> {
                int gid = GIDS[rnd.nextInt(GIDS.length)];
                yield new Crit("gid: " + gid, null, p -> p.gid() == gid || p.groups().contains(gid));
            }
            case 2 -> {
                String u = USER_NAMES[rnd.nextInt(USER_NAMES.length)];
                yield new Crit("user: " + u, null, p -> u.equals(USERS.get(p.uid())));
            }
            case 3 -> {
                String g = GROUP_NAMES[rnd.nextInt(GROUP_NAMES.length)];
                yield new Crit("group: " + g, null, p -> {
                    Integer gid = GROUP_IDS.get(g);
                    boolean byId = gid != null && (p.gid() == gid || p.groups().contains(gid));
                    String user = USERS.get(p.uid());
                    return byId || (user != null && MEMBERS.getOrDefault(g, Set.of()).contains(user));
                });
            }
            case 4 -> {
                String r = RESOURCES[rnd.nextInt(RESOURCES.length)];
                yield new Crit("kubernetesResource: " + r, null, p -> r.equals(p.kubernetesResource()));
            }
            default -> new Crit("any: true", null, p -> true);
        };
    }

    static List<GenRule> randomRules(SplittableRandom rnd) {
        int n = rnd.nextInt(9);
        List<GenRule> rules = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            List<Crit> devs = new ArrayList<>();
            Set<String> kinds = new java.util.HashSet<>();
            int k = 1 + rnd.nextInt(2);
            for (int j = 0; j < k; j++) {
                Crit c = deviceCrit(rnd);
                String kind = c.yaml().substring(0, c.yaml().indexOf(':'));
                if (kind.equals("any") ? devs.isEmpty() && j == k - 1 : kinds.add(kind)) devs.add(c);
            }
            if (devs.isEmpty()) devs.add(new Crit("any: true", d -> true, null));
            if (devs.size() > 1) devs.removeIf(c -> c.yaml().startsWith("any"));
            List<Crit> whos = new ArrayList<>();
            Crit w = principalCrit(rnd);
            whos.add(w);
            if (!w.yaml().startsWith("any") && rnd.nextBoolean()) {
                Crit w2 = principalCrit(rnd);
                if (!w2.yaml().startsWith("any") && !w2.yaml().substring(0, 3).equals(w.yaml().substring(0, 3))) whos.add(w2);
            }
            rules.add(new GenRule("r" + i, rnd.nextInt(4) == 0, devs, whos));
        }
        return rules;
    }

    static List<Principal> principals(SplittableRandom rnd) {
        List<Principal> out = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            int uid = UIDS[rnd.nextInt(UIDS.length)];
            int gid = GIDS[rnd.nextInt(GIDS.length)];
            List<Integer> groups = rnd.nextBoolean() ? List.of() : List.of(GIDS[rnd.nextInt(GIDS.length)]);
            String res = rnd.nextInt(3) == 0 ? RESOURCES[rnd.nextInt(RESOURCES.length)] : null;
            out.add(new Principal(uid, gid, groups, null, res));
        }
        return out;
    }

    private static Decision decide(Policy p, Principal who, Device d) {
        return PolicyEngine.evaluate(p, who, d.address(), inventory, chips, accounts).decision();
    }

    @Test
    void decisionsFollowTheDocumentedPrecedenceAndAreDeterministic() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        int checked = 0;
        int allowed = 0;
        int denied = 0;
        for (int i = 0; i < POLICIES; i++) {
            List<GenRule> rules = randomRules(rnd);
            String yaml = policyYaml(rules);
            Policy policy = PolicyParser.parse(yaml, "random");
            Policy again = PolicyParser.parse(yaml, "random");
            for (Principal who : principals(rnd)) {
                for (Device d : inventory.devices()) {
                    String ctx = "seed " + Long.toHexString(SEED) + ", policy " + i + ", " + who + ", " + d.address() + "\n" + yaml;
                    Decision decision = decide(policy, who, d);
                    assertThat(decide(again, who, d)).as("determinism: " + ctx).isEqualTo(decision);

                    GenRule deny = rules.stream().filter(r -> r.deny() && r.matches(d, who)).findFirst().orElse(null);
                    GenRule allow = rules.stream().filter(r -> !r.deny() && r.matches(d, who)).findFirst().orElse(null);
                    if (deny != null) {
                        assertThat(decision).as("deny wins: " + ctx).isInstanceOf(Decision.Refused.class);
                        assertThat(decision.rule()).as(ctx).isEqualTo(deny.name());
                        denied++;
                    } else if (allow == null) {
                        assertThat(decision.rule()).as("default deny: " + ctx).isEqualTo(Decision.DEFAULT_DENY);
                        assertThat(decision.allowed()).as(ctx).isFalse();
                    } else {
                        assertThat(decision.rule()).as("first allow decides: " + ctx).isEqualTo(allow.name());
                        // On this IR host only devices outside every IOMMU group are refused by a matching allow.
                        assertThat(decision.allowed()).as(ctx).isEqualTo(d.iommuGroup() != null);
                        if (decision.allowed()) allowed++;
                    }
                    checked++;
                }
            }
        }
        // The generator must exercise every branch, or the test proves little.
        assertThat(allowed).as("allowed decisions").isGreaterThan(1000);
        assertThat(denied).as("deny-rule refusals").isGreaterThan(1000);
        assertThat(checked).isGreaterThan(POLICIES * 6 * 20);
    }

    @Test
    void denyRulesWinWhereverTheyAreMoved() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        for (int i = 0; i < POLICIES; i++) {
            List<GenRule> rules = randomRules(rnd);
            // Same allow order, deny rules moved to random places.
            List<GenRule> moved = new ArrayList<>(rules.stream().filter(r -> !r.deny()).toList());
            for (GenRule r : rules) if (r.deny()) moved.add(rnd.nextInt(moved.size() + 1), r);
            Policy a = PolicyParser.parse(policyYaml(rules), "a");
            Policy b = PolicyParser.parse(policyYaml(moved), "b");
            for (Principal who : principals(rnd)) {
                for (Device d : inventory.devices()) {
                    Decision x = decide(a, who, d);
                    Decision y = decide(b, who, d);
                    String ctx = "seed " + Long.toHexString(SEED + 1) + ", policy " + i + ", " + who + ", " + d.address()
                            + "\n" + policyYaml(rules) + "--- moved ---\n" + policyYaml(moved);
                    assertThat(y.allowed()).as(ctx).isEqualTo(x.allowed());
                    boolean xDeny = a.rule(x.rule()).map(Rule::isDeny).orElse(false);
                    assertThat(b.rule(y.rule()).map(Rule::isDeny).orElse(false)).as(ctx).isEqualTo(xDeny);
                    if (!xDeny) assertThat(y.rule()).as(ctx).isEqualTo(x.rule());
                }
            }
        }
    }

    @Test
    void addingAMatchingDenyRuleAlwaysRefuses_andNoRulesMeansDefaultDeny() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        Policy empty = PolicyParser.parse("version: 1\nrules: []\n", "empty");
        for (int i = 0; i < POLICIES; i++) {
            List<GenRule> rules = new ArrayList<>(randomRules(rnd));
            Device target = inventory.devices().get(rnd.nextInt(inventory.devices().size()));
            Principal who = principals(rnd).get(0);
            GenRule block = new GenRule("block", true,
                    List.of(new Crit("address: \"" + target.address() + "\"", d -> d.address().equals(target.address()), null)),
                    List.of(new Crit("uid: " + who.uid(), null, p -> p.uid() == who.uid())));
            rules.add(rnd.nextInt(rules.size() + 1), block);
            Policy p = PolicyParser.parse(policyYaml(rules), "with-block");
            Decision d = decide(p, who, target);
            String ctx = "seed " + Long.toHexString(SEED + 2) + ", policy " + i + ", " + who + ", " + target.address() + "\n" + policyYaml(rules);
            assertThat(d.allowed()).as(ctx).isFalse();
            assertThat(p.rule(d.rule()).orElseThrow().isDeny()).as(ctx).isTrue();
            assertThat(decide(empty, who, target).rule()).isEqualTo(Decision.DEFAULT_DENY);
        }
    }
}
