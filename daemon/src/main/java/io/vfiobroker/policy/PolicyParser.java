package io.vfiobroker.policy;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads a policy file through snakeyaml's node tree, not its object mapping: every node keeps its line, so
 * each error can name line, column and key, and nothing in the file can instantiate a class. Unknown keys
 * are errors (a misspelt "allowUnsafeInterupts" must not silently mean false). All errors are collected.
 */
public final class PolicyParser {

    private static final Set<String> TOP = Set.of("version", "defaults", "labels", "binding", "leases", "rules");
    private static final Set<String> LEASES = Set.of("revokeGraceSeconds", "onWithdrawnGrant");
    private static final Set<String> LIMITS = Set.of("maxDevices", "memlockPerLease", "memlockPerPrincipal", "backend",
            "keepBound", "allowUnsafeInterrupts");
    private static final Set<String> PRINCIPALS = Set.of("any", "uid", "gid", "user", "group", "kubernetesResource");
    private static final Set<String> RULE = Set.of("name", "action", "devices", "principals", "limits");
    private static final Set<String> BINDING = Set.of("allow", "deny", "protectedOverrides");

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    // Kubernetes extended resource names: domain/name.
    private static final Pattern RESOURCE = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?/[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?");
    private static final Pattern ACCOUNT = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*\\$?");

    private final PolicyNodes nodes = new PolicyNodes();
    private final SelectorParser selectors = new SelectorParser(nodes);

    private PolicyParser() {
    }

    /** Parses and validates; throws {@link PolicyException} listing every problem. */
    public static Policy parse(String text, String source) {
        PolicyParser p = new PolicyParser();
        Policy policy = p.document(text);
        if (!p.nodes.errors().isEmpty() || policy == null) {
            // In file order, as someone fixing it reads: checks run section by section, not top to bottom.
            List<PolicyError> sorted = new ArrayList<>(p.nodes.errors());
            sorted.sort(java.util.Comparator.comparingInt(PolicyError::line).thenComparingInt(PolicyError::column));
            throw new PolicyException(source, sorted);
        }
        return policy;
    }

    private Policy document(String text) {
        LoaderOptions opts = new LoaderOptions();
        opts.setMaxAliasesForCollections(20);
        opts.setCodePointLimit(4 << 20);
        opts.setNestingDepthLimit(20);
        Node root;
        try {
            root = new Yaml(opts).compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String problem = e.getProblem() != null ? e.getProblem() : e.getMessage();
            if (e.getContext() != null) problem = e.getContext() + ": " + problem;
            nodes.add(new PolicyError(m == null ? 0 : m.getLine() + 1, m == null ? 0 : m.getColumn() + 1, "", "not valid YAML: " + problem));
            return null;
        } catch (YAMLException e) {
            nodes.add(new PolicyError(0, 0, "", "not valid YAML: " + e.getMessage()));
            return null;
        }
        if (root == null) {
            nodes.add(new PolicyError(1, 1, "", "the file is empty; a policy needs at least 'version: 1' (and rules, or everything is refused)"));
            return null;
        }
        Map<String, NodeTuple> top = nodes.mapping(root, "", TOP);
        if (top == null) return null;

        int version = 0;
        if (!top.containsKey("version")) nodes.error(root, "version", "missing; write 'version: 1' at the top");
        else {
            Node v = top.get("version").getValueNode();
            Integer parsed = nodes.integer(v, "version", 1, 1);
            version = parsed == null ? 0 : parsed;
        }
        Limits defaults = top.containsKey("defaults") ? limits(top.get("defaults").getValueNode(), "defaults", Limits.BUILT_IN) : Limits.BUILT_IN;

        Map<String, DeviceSelector> labels = new LinkedHashMap<>();
        if (top.containsKey("labels")) {
            Map<String, NodeTuple> ls = nodes.mapping(top.get("labels").getValueNode(), "labels", null);
            if (ls != null) {
                ls.forEach((name, t) -> {
                    String key = "labels." + name;
                    if (!NAME.matcher(name).matches()) nodes.error(t.getKeyNode(), key, "label names are letters, digits, '.', '_' and '-'");
                    DeviceSelector s = selectors.selector(t.getValueNode(), key, Set.of(), SelectorParser.Scope.LABEL);
                    if (s != null) labels.put(name, s);
                });
            }
        }

        BindingPolicy binding = BindingPolicy.OPEN;
        if (top.containsKey("binding")) binding = binding(top.get("binding").getValueNode(), labels.keySet());

        List<Rule> rules = new ArrayList<>();
        if (top.containsKey("rules")) {
            Node rn = top.get("rules").getValueNode();
            List<Node> items = nodes.sequence(rn, "rules");
            Set<String> names = new HashSet<>();
            for (int i = 0; i < items.size(); i++) {
                Rule r = rule(items.get(i), "rules[" + i + "]", defaults, labels.keySet(), names);
                if (r != null) rules.add(r);
            }
        }
        LeasePolicy leases = top.containsKey("leases") ? leases(top.get("leases").getValueNode()) : LeasePolicy.DEFAULT;
        return new Policy(version, defaults, labels, binding, rules, leases, text);
    }

    private LeasePolicy leases(Node n) {
        Map<String, NodeTuple> m = nodes.mapping(n, "leases", LEASES);
        if (m == null) return LeasePolicy.DEFAULT;
        java.time.Duration grace = LeasePolicy.DEFAULT.revokeGrace();
        if (m.containsKey("revokeGraceSeconds")) {
            Integer g = nodes.integer(m.get("revokeGraceSeconds").getValueNode(), "leases.revokeGraceSeconds", 0, 3600);
            if (g != null) grace = java.time.Duration.ofSeconds(g);
        }
        LeasePolicy.OnWithdrawnGrant on = LeasePolicy.DEFAULT.onWithdrawnGrant();
        if (m.containsKey("onWithdrawnGrant")) {
            LeasePolicy.OnWithdrawnGrant v = nodes.enumValue(m.get("onWithdrawnGrant").getValueNode(), "leases.onWithdrawnGrant",
                    LeasePolicy.OnWithdrawnGrant.class);
            if (v != null) on = v;
        }
        return new LeasePolicy(grace, on);
    }

    private Rule rule(Node n, String path, Limits defaults, Set<String> labels, Set<String> names) {
        Map<String, NodeTuple> m = nodes.mapping(n, path, RULE);
        if (m == null) return null;
        String name = null;
        if (!m.containsKey("name")) nodes.error(n, path + ".name", "missing; every rule needs a unique name");
        else {
            Node nn = m.get("name").getValueNode();
            name = nodes.string(nn, path + ".name");
            if (name != null) {
                if (!NAME.matcher(name).matches()) {
                    nodes.error(nn, path + ".name", "'" + name + "' is not a rule name: letters, digits, '.', '_' and '-', at most 63");
                } else if (name.equals(Decision.DEFAULT_DENY) || name.equals(Decision.NO_SUCH_DEVICE)) {
                    nodes.error(nn, path + ".name", "'" + name + "' is reserved for the engine's own refusals");
                } else if (!names.add(name)) {
                    nodes.error(nn, path + ".name", "'" + name + "' is used by an earlier rule; names must be unique");
                }
            }
        }
        Rule.Action action = null;
        if (!m.containsKey("action")) nodes.error(n, path + ".action", "missing; write 'action: allow' or 'action: deny'");
        else action = nodes.enumValue(m.get("action").getValueNode(), path + ".action", Rule.Action.class);
        DeviceSelector devices = null;
        if (!m.containsKey("devices")) nodes.error(n, path + ".devices", "missing; name the devices, or write 'devices: {any: true}'");
        else devices = selectors.selector(m.get("devices").getValueNode(), path + ".devices", labels, SelectorParser.Scope.POLICY);
        PrincipalSelector principals = null;
        if (!m.containsKey("principals")) nodes.error(n, path + ".principals", "missing; name who, or write 'principals: {any: true}'");
        else principals = principals(m.get("principals").getValueNode(), path + ".principals");
        Limits limits = null;
        if (m.containsKey("limits")) {
            if (action == Rule.Action.DENY) {
                nodes.error(m.get("limits").getKeyNode(), path + ".limits", "a deny rule grants nothing, so limits mean nothing here");
            } else {
                limits = limits(m.get("limits").getValueNode(), path + ".limits", defaults);
            }
        } else if (action == Rule.Action.ALLOW) {
            limits = defaults;
        }
        if (name == null || action == null || devices == null || principals == null) return null;
        return new Rule(name, action, devices, principals, limits, n.getStartMark().getLine() + 1);
    }

    private BindingPolicy binding(Node n, Set<String> labels) {
        Map<String, NodeTuple> m = nodes.mapping(n, "binding", BINDING);
        if (m == null) return BindingPolicy.OPEN;
        List<DeviceSelector> allow = selectors(m.get("allow"), "binding.allow", labels);
        List<DeviceSelector> deny = selectors(m.get("deny"), "binding.deny", labels);
        List<PciAddress> overrides = new ArrayList<>();
        if (m.containsKey("protectedOverrides")) {
            Node v = m.get("protectedOverrides").getValueNode();
            List<Node> items = nodes.scalars(v, "binding.protectedOverrides");
            for (int i = 0; i < items.size(); i++) {
                PciAddress a = nodes.address(items.get(i), "binding.protectedOverrides[" + i + "]");
                if (a != null) overrides.add(a);
            }
        }
        return new BindingPolicy(allow, deny, overrides);
    }

    private List<DeviceSelector> selectors(NodeTuple t, String path, Set<String> labels) {
        if (t == null) return List.of();
        List<DeviceSelector> out = new ArrayList<>();
        List<Node> items = nodes.sequence(t.getValueNode(), path);
        for (int i = 0; i < items.size(); i++) {
            DeviceSelector s = selectors.selector(items.get(i), path + "[" + i + "]", labels, SelectorParser.Scope.POLICY);
            if (s != null) out.add(s);
        }
        return out;
    }

    private PrincipalSelector principals(Node n, String path) {
        Map<String, NodeTuple> m = nodes.mapping(n, path, PRINCIPALS);
        if (m == null) return null;
        if (m.isEmpty()) {
            if (((MappingNode) n).getValue().isEmpty()) nodes.error(n, path, "names nobody; give uid, gid, user, group or kubernetesResource, or 'any: true'");
            return null;
        }
        boolean any = nodes.anyFlag(m, path);
        if (any && m.size() > 1) nodes.error(n, path, "'any: true' covers everyone; other entries beside it would be ignored, so remove them");
        return new PrincipalSelector(any,
                nodes.list(m, "uid", path, (node, key) -> nodes.integer(node, key, 0, Integer.MAX_VALUE)),
                nodes.list(m, "gid", path, (node, key) -> nodes.integer(node, key, 0, Integer.MAX_VALUE)),
                nodes.list(m, "user", path, (node, key) -> nodes.matching(node, key, ACCOUNT, "a user name", s -> s)),
                nodes.list(m, "group", path, (node, key) -> nodes.matching(node, key, ACCOUNT, "a group name", s -> s)),
                nodes.list(m, "kubernetesResource", path, (node, key) -> nodes.matching(node, key, RESOURCE, "a resource name like 'intel.com/x710_vf'", s -> s)));
    }

    private Limits limits(Node n, String path, Limits base) {
        Map<String, NodeTuple> m = nodes.mapping(n, path, LIMITS);
        if (m == null) return base;
        int max = base.maxDevices();
        long perLease = base.memlockBytesPerLease();
        long perPrincipal = base.memlockBytesPerPrincipal();
        Set<Backend> backends = base.backends();
        boolean keep = base.keepBound();
        boolean unsafe = base.allowUnsafeInterrupts();
        if (m.containsKey("maxDevices")) {
            Node v = m.get("maxDevices").getValueNode();
            Integer parsed = nodes.isUnlimited(v) ? Integer.valueOf(Limits.UNLIMITED) : nodes.integer(v, path + ".maxDevices", 1, 1 << 20);
            if (parsed != null) max = parsed;
        }
        if (m.containsKey("memlockPerLease")) perLease = nodes.size(m.get("memlockPerLease").getValueNode(), path + ".memlockPerLease", perLease);
        if (m.containsKey("memlockPerPrincipal")) perPrincipal = nodes.size(m.get("memlockPerPrincipal").getValueNode(), path + ".memlockPerPrincipal", perPrincipal);
        if (m.containsKey("backend")) {
            Node v = m.get("backend").getValueNode();
            String s = nodes.string(v, path + ".backend");
            try {
                if (s != null) backends = Limits.backends(s);
            } catch (IllegalArgumentException e) {
                nodes.error(v, path + ".backend", e.getMessage());
            }
        }
        if (m.containsKey("keepBound")) keep = nodes.bool(m.get("keepBound").getValueNode(), path + ".keepBound");
        if (m.containsKey("allowUnsafeInterrupts")) unsafe = nodes.bool(m.get("allowUnsafeInterrupts").getValueNode(), path + ".allowUnsafeInterrupts");
        if (perLease != Limits.UNLIMITED && perPrincipal != Limits.UNLIMITED && perLease > perPrincipal) {
            nodes.error(n, path + ".memlockPerLease", "is larger than memlockPerPrincipal (" + perLease + " > " + perPrincipal
                    + " bytes); one lease could never use it");
        }
        return new Limits(max, perLease, perPrincipal, backends, keep, unsafe);
    }
}
