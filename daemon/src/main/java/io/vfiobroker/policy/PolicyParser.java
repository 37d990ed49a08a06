package io.vfiobroker.policy;

import io.vfiobroker.domain.PciAddress;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

import java.io.StringReader;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
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
    private static final Set<String> SELECTOR = Set.of("any", "address", "vendorDevice", "class", "role", "numaNode",
            "iommuGroup", "name", "label");
    private static final Set<String> PRINCIPALS = Set.of("any", "uid", "gid", "user", "group", "kubernetesResource");
    private static final Set<String> RULE = Set.of("name", "action", "devices", "principals", "limits");
    private static final Set<String> BINDING = Set.of("allow", "deny", "protectedOverrides");

    private static final Pattern VENDOR_DEVICE = Pattern.compile("[0-9a-fA-F]{4}:([0-9a-fA-F]{4}|\\*)");
    private static final Pattern CLASS = Pattern.compile("[0-9a-fA-F]{2}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(|K|KiB|M|MiB|G|GiB|T|TiB)");
    // Kubernetes extended resource names: domain/name.
    private static final Pattern RESOURCE = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?/[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?");
    private static final Pattern ACCOUNT = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*\\$?");

    private final List<PolicyError> errors = new ArrayList<>();

    private PolicyParser() {
    }

    /** Parses and validates; throws {@link PolicyException} listing every problem. */
    public static Policy parse(String text, String source) {
        PolicyParser p = new PolicyParser();
        Policy policy = p.document(text);
        if (!p.errors.isEmpty() || policy == null) {
            // In file order, as someone fixing it reads: checks run section by section, not top to bottom.
            List<PolicyError> sorted = new ArrayList<>(p.errors);
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
            errors.add(new PolicyError(m == null ? 0 : m.getLine() + 1, m == null ? 0 : m.getColumn() + 1, "", "not valid YAML: " + problem));
            return null;
        } catch (YAMLException e) {
            errors.add(new PolicyError(0, 0, "", "not valid YAML: " + e.getMessage()));
            return null;
        }
        if (root == null) {
            errors.add(new PolicyError(1, 1, "", "the file is empty; a policy needs at least 'version: 1' (and rules, or everything is refused)"));
            return null;
        }
        Map<String, NodeTuple> top = mapping(root, "", TOP);
        if (top == null) return null;

        int version = 0;
        if (!top.containsKey("version")) error(root, "version", "missing; write 'version: 1' at the top");
        else {
            Node v = top.get("version").getValueNode();
            Integer parsed = integer(v, "version", 1, 1);
            version = parsed == null ? 0 : parsed;
        }
        Limits defaults = top.containsKey("defaults") ? limits(top.get("defaults").getValueNode(), "defaults", Limits.BUILT_IN) : Limits.BUILT_IN;

        Map<String, DeviceSelector> labels = new LinkedHashMap<>();
        if (top.containsKey("labels")) {
            Map<String, NodeTuple> ls = mapping(top.get("labels").getValueNode(), "labels", null);
            if (ls != null) {
                ls.forEach((name, t) -> {
                    String key = "labels." + name;
                    if (!NAME.matcher(name).matches()) error(t.getKeyNode(), key, "label names are letters, digits, '.', '_' and '-'");
                    DeviceSelector s = selector(t.getValueNode(), key, null);
                    if (s != null) labels.put(name, s);
                });
            }
        }

        BindingPolicy binding = BindingPolicy.OPEN;
        if (top.containsKey("binding")) binding = binding(top.get("binding").getValueNode(), labels.keySet());

        List<Rule> rules = new ArrayList<>();
        if (top.containsKey("rules")) {
            Node rn = top.get("rules").getValueNode();
            List<Node> items = sequence(rn, "rules");
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
        Map<String, NodeTuple> m = mapping(n, "leases", LEASES);
        if (m == null) return LeasePolicy.DEFAULT;
        java.time.Duration grace = LeasePolicy.DEFAULT.revokeGrace();
        if (m.containsKey("revokeGraceSeconds")) {
            Integer g = integer(m.get("revokeGraceSeconds").getValueNode(), "leases.revokeGraceSeconds", 0, 3600);
            if (g != null) grace = java.time.Duration.ofSeconds(g);
        }
        LeasePolicy.OnWithdrawnGrant on = LeasePolicy.DEFAULT.onWithdrawnGrant();
        if (m.containsKey("onWithdrawnGrant")) {
            LeasePolicy.OnWithdrawnGrant v = enumValue(m.get("onWithdrawnGrant").getValueNode(), "leases.onWithdrawnGrant",
                    LeasePolicy.OnWithdrawnGrant.class);
            if (v != null) on = v;
        }
        return new LeasePolicy(grace, on);
    }

    private Rule rule(Node n, String path, Limits defaults, Set<String> labels, Set<String> names) {
        Map<String, NodeTuple> m = mapping(n, path, RULE);
        if (m == null) return null;
        String name = null;
        if (!m.containsKey("name")) error(n, path + ".name", "missing; every rule needs a unique name");
        else {
            Node nn = m.get("name").getValueNode();
            name = string(nn, path + ".name");
            if (name != null) {
                if (!NAME.matcher(name).matches()) {
                    error(nn, path + ".name", "'" + name + "' is not a rule name: letters, digits, '.', '_' and '-', at most 63");
                } else if (name.equals(Decision.DEFAULT_DENY) || name.equals(Decision.NO_SUCH_DEVICE)) {
                    error(nn, path + ".name", "'" + name + "' is reserved for the engine's own refusals");
                } else if (!names.add(name)) {
                    error(nn, path + ".name", "'" + name + "' is used by an earlier rule; names must be unique");
                }
            }
        }
        Rule.Action action = null;
        if (!m.containsKey("action")) error(n, path + ".action", "missing; write 'action: allow' or 'action: deny'");
        else action = enumValue(m.get("action").getValueNode(), path + ".action", Rule.Action.class);
        DeviceSelector devices = null;
        if (!m.containsKey("devices")) error(n, path + ".devices", "missing; name the devices, or write 'devices: {any: true}'");
        else devices = selector(m.get("devices").getValueNode(), path + ".devices", labels);
        PrincipalSelector principals = null;
        if (!m.containsKey("principals")) error(n, path + ".principals", "missing; name who, or write 'principals: {any: true}'");
        else principals = principals(m.get("principals").getValueNode(), path + ".principals");
        Limits limits = null;
        if (m.containsKey("limits")) {
            if (action == Rule.Action.DENY) {
                error(m.get("limits").getKeyNode(), path + ".limits", "a deny rule grants nothing, so limits mean nothing here");
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
        Map<String, NodeTuple> m = mapping(n, "binding", BINDING);
        if (m == null) return BindingPolicy.OPEN;
        List<DeviceSelector> allow = selectors(m.get("allow"), "binding.allow", labels);
        List<DeviceSelector> deny = selectors(m.get("deny"), "binding.deny", labels);
        List<PciAddress> overrides = new ArrayList<>();
        if (m.containsKey("protectedOverrides")) {
            Node v = m.get("protectedOverrides").getValueNode();
            List<Node> items = scalars(v, "binding.protectedOverrides");
            for (int i = 0; i < items.size(); i++) {
                PciAddress a = address(items.get(i), "binding.protectedOverrides[" + i + "]");
                if (a != null) overrides.add(a);
            }
        }
        return new BindingPolicy(allow, deny, overrides);
    }

    private List<DeviceSelector> selectors(NodeTuple t, String path, Set<String> labels) {
        if (t == null) return List.of();
        List<DeviceSelector> out = new ArrayList<>();
        List<Node> items = sequence(t.getValueNode(), path);
        for (int i = 0; i < items.size(); i++) {
            DeviceSelector s = selector(items.get(i), path + "[" + i + "]", labels);
            if (s != null) out.add(s);
        }
        return out;
    }

    /** A device selector; {@code labels} null where labels may not be used (inside a label). */
    private DeviceSelector selector(Node n, String path, Set<String> labels) {
        Map<String, NodeTuple> m = mapping(n, path, SELECTOR);
        if (m == null) return null;
        if (m.isEmpty()) {
            // An unknown key has been reported already; one error per mistake.
            if (((MappingNode) n).getValue().isEmpty()) error(n, path, "selects nothing; give at least one criterion, or 'any: true'");
            return null;
        }
        boolean any = anyFlag(m, path);
        if (any && m.size() > 1) error(n, path, "'any: true' selects every device; other criteria beside it would be ignored, so remove them");
        List<PciAddress> addresses = list(m, "address", path, this::address);
        List<String> vds = list(m, "vendorDevice", path, (node, key) ->
                matching(node, key, VENDOR_DEVICE, "'vvvv:dddd' in hex, or 'vvvv:*'", s -> s.toLowerCase(Locale.ROOT)));
        List<String> classes = list(m, "class", path, (node, key) ->
                matching(node, key, CLASS, "2, 4 or 6 hex digits (class, class+subclass, or the full code)", s -> s.toLowerCase(Locale.ROOT)));
        List<DeviceSelector.Role> roles = list(m, "role", path, (node, key) -> enumValue(node, key, DeviceSelector.Role.class));
        List<Integer> numa = list(m, "numaNode", path, (node, key) -> integer(node, key, -1, 1023));
        List<Integer> groups = list(m, "iommuGroup", path, (node, key) -> integer(node, key, 0, Integer.MAX_VALUE));
        List<String> names = list(m, "name", path, this::string);
        List<String> ls = List.of();
        if (m.containsKey("label")) {
            if (labels == null) {
                error(m.get("label").getKeyNode(), path + ".label", "a label cannot refer to another label");
            } else {
                ls = list(m, "label", path, (node, key) -> {
                    String s = string(node, key);
                    if (s != null && !labels.contains(s)) {
                        error(node, key, "no label '" + s + "' is defined under 'labels:'" + (labels.isEmpty() ? "" : " (defined: " + String.join(", ", labels) + ")"));
                        return null;
                    }
                    return s;
                });
            }
        }
        return new DeviceSelector(any, addresses, vds, classes, roles, numa, groups, names, ls);
    }

    private PrincipalSelector principals(Node n, String path) {
        Map<String, NodeTuple> m = mapping(n, path, PRINCIPALS);
        if (m == null) return null;
        if (m.isEmpty()) {
            if (((MappingNode) n).getValue().isEmpty()) error(n, path, "names nobody; give uid, gid, user, group or kubernetesResource, or 'any: true'");
            return null;
        }
        boolean any = anyFlag(m, path);
        if (any && m.size() > 1) error(n, path, "'any: true' covers everyone; other entries beside it would be ignored, so remove them");
        return new PrincipalSelector(any,
                list(m, "uid", path, (node, key) -> integer(node, key, 0, Integer.MAX_VALUE)),
                list(m, "gid", path, (node, key) -> integer(node, key, 0, Integer.MAX_VALUE)),
                list(m, "user", path, (node, key) -> matching(node, key, ACCOUNT, "a user name", s -> s)),
                list(m, "group", path, (node, key) -> matching(node, key, ACCOUNT, "a group name", s -> s)),
                list(m, "kubernetesResource", path, (node, key) -> matching(node, key, RESOURCE, "a resource name like 'intel.com/x710_vf'", s -> s)));
    }

    private Limits limits(Node n, String path, Limits base) {
        Map<String, NodeTuple> m = mapping(n, path, LIMITS);
        if (m == null) return base;
        int max = base.maxDevices();
        long perLease = base.memlockBytesPerLease();
        long perPrincipal = base.memlockBytesPerPrincipal();
        Backend backend = base.backend();
        boolean keep = base.keepBound();
        boolean unsafe = base.allowUnsafeInterrupts();
        if (m.containsKey("maxDevices")) {
            Node v = m.get("maxDevices").getValueNode();
            Integer parsed = isUnlimited(v) ? Integer.valueOf(Limits.UNLIMITED) : integer(v, path + ".maxDevices", 1, 1 << 20);
            if (parsed != null) max = parsed;
        }
        if (m.containsKey("memlockPerLease")) perLease = size(m.get("memlockPerLease").getValueNode(), path + ".memlockPerLease", perLease);
        if (m.containsKey("memlockPerPrincipal")) perPrincipal = size(m.get("memlockPerPrincipal").getValueNode(), path + ".memlockPerPrincipal", perPrincipal);
        if (m.containsKey("backend")) {
            Backend b = enumValue(m.get("backend").getValueNode(), path + ".backend", Backend.class);
            if (b != null) backend = b;
        }
        if (m.containsKey("keepBound")) keep = bool(m.get("keepBound").getValueNode(), path + ".keepBound");
        if (m.containsKey("allowUnsafeInterrupts")) unsafe = bool(m.get("allowUnsafeInterrupts").getValueNode(), path + ".allowUnsafeInterrupts");
        if (perLease != Limits.UNLIMITED && perPrincipal != Limits.UNLIMITED && perLease > perPrincipal) {
            error(n, path + ".memlockPerLease", "is larger than memlockPerPrincipal (" + perLease + " > " + perPrincipal
                    + " bytes); one lease could never use it");
        }
        return new Limits(max, perLease, perPrincipal, backend, keep, unsafe);
    }

    // ---- node helpers: each reports its own error and returns null (or a fallback) on a bad value ----

    /** A mapping's entries by key; unknown (when {@code allowed} is given) and duplicate keys are errors. */
    private Map<String, NodeTuple> mapping(Node n, String path, Set<String> allowed) {
        if (!(n instanceof MappingNode mn)) {
            error(n, path, "expected a mapping (key: value lines)" + found(n));
            return null;
        }
        Map<String, NodeTuple> out = new LinkedHashMap<>();
        for (NodeTuple t : mn.getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode k)) {
                error(t.getKeyNode(), path, "keys must be plain words");
                continue;
            }
            String key = k.getValue();
            String full = path.isEmpty() ? key : path + "." + key;
            if (allowed != null && !allowed.contains(key)) {
                error(k, full, "unknown key '" + key + "'" + suggestion(key, allowed) + "; expected one of " + String.join(", ", new java.util.TreeSet<>(allowed)));
            } else if (out.containsKey(key)) {
                error(k, full, "duplicate key '" + key + "' (first on line " + (out.get(key).getKeyNode().getStartMark().getLine() + 1) + ")");
            } else {
                out.put(key, t);
            }
        }
        return out;
    }

    private List<Node> sequence(Node n, String path) {
        if (n instanceof SequenceNode s) return s.getValue();
        error(n, path, "expected a list ('- ' items)" + found(n));
        return List.of();
    }

    /** A scalar or a list of scalars: 'uid: 1000' and 'uid: [1000, 1001]' both work. */
    private List<Node> scalars(Node n, String path) {
        if (n instanceof ScalarNode) return List.of(n);
        if (n instanceof SequenceNode s) {
            if (s.getValue().isEmpty()) error(n, path, "is an empty list; leave the key out instead");
            return s.getValue();
        }
        error(n, path, "expected a value or a list of values" + found(n));
        return List.of();
    }

    private interface Item<T> {
        T read(Node n, String key);
    }

    private <T> List<T> list(Map<String, NodeTuple> m, String key, String path, Item<T> item) {
        if (!m.containsKey(key)) return List.of();
        String full = path + "." + key;
        Node v = m.get(key).getValueNode();
        List<Node> nodes = scalars(v, full);
        List<T> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            String k = v instanceof SequenceNode ? full + "[" + i + "]" : full;
            T t = item.read(nodes.get(i), k);
            if (t != null) out.add(t);
        }
        return out;
    }

    private String string(Node n, String key) {
        if (!(n instanceof ScalarNode s) || s.getTag().equals(Tag.NULL)) {
            error(n, key, "expected a value" + found(n));
            return null;
        }
        if (s.getValue().isBlank()) {
            error(n, key, "is empty");
            return null;
        }
        return s.getValue();
    }

    private String matching(Node n, String key, Pattern p, String expected, Function<String, String> norm) {
        String s = string(n, key);
        if (s == null) return null;
        if (!p.matcher(s).matches()) {
            error(n, key, "'" + s + "' is not " + expected);
            return null;
        }
        return norm.apply(s);
    }

    private PciAddress address(Node n, String key) {
        String s = string(n, key);
        if (s == null) return null;
        try {
            return PciAddress.parse(s);
        } catch (IllegalArgumentException e) {
            error(n, key, e.getMessage());
            return null;
        }
    }

    private Integer integer(Node n, String key, int min, int max) {
        String s = string(n, key);
        if (s == null) return null;
        try {
            int v = Integer.parseInt(s.strip());
            if (v < min || v > max) {
                error(n, key, v + " is out of range (" + min + ".." + (max == Integer.MAX_VALUE ? "2147483647" : max) + ")");
                return null;
            }
            return v;
        } catch (NumberFormatException e) {
            error(n, key, "'" + s + "' is not a whole number");
            return null;
        }
    }

    // Only the words true and false: YAML 1.1 would also read yes/no/on/off, which is how typos become policy.
    private boolean bool(Node n, String key) {
        String s = string(n, key);
        if (s == null) return false;
        if (s.equals("true")) return true;
        if (!s.equals("false")) error(n, key, "'" + s + "' is not true or false");
        return false;
    }

    private boolean anyFlag(Map<String, NodeTuple> m, String path) {
        if (!m.containsKey("any")) return false;
        Node v = m.get("any").getValueNode();
        if (v instanceof ScalarNode s && s.getValue().equals("false")) {
            error(v, path + ".any", "'any: false' means nothing; leave it out");
            return false;
        }
        return bool(v, path + ".any");
    }

    private <E extends Enum<E>> E enumValue(Node n, String key, Class<E> type) {
        String s = string(n, key);
        if (s == null) return null;
        for (E e : type.getEnumConstants()) if (e.name().equalsIgnoreCase(s)) return e;
        error(n, key, "'" + s + "' is not one of " + String.join(", ",
                java.util.Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT)).toList()));
        return null;
    }

    private boolean isUnlimited(Node n) {
        return n instanceof ScalarNode s && s.getValue().equals("unlimited");
    }

    /** Bytes: a plain number, or a number with K/M/G/T (binary, as systemd's LimitMEMLOCK= reads them), or "unlimited". */
    private long size(Node n, String key, long fallback) {
        if (isUnlimited(n)) return Limits.UNLIMITED;
        String s = string(n, key);
        if (s == null) return fallback;
        var m = SIZE.matcher(s.strip());
        if (!m.matches()) {
            error(n, key, "'" + s + "' is not a size: bytes, or a number with K, M, G or T (KiB/MiB/GiB/TiB), or 'unlimited'");
            return fallback;
        }
        int shift = switch (m.group(2)) {
            case "K", "KiB" -> 10;
            case "M", "MiB" -> 20;
            case "G", "GiB" -> 30;
            case "T", "TiB" -> 40;
            default -> 0;
        };
        try {
            long v = Long.parseLong(m.group(1));
            if (v > (Long.MAX_VALUE >> shift)) throw new NumberFormatException();
            return v << shift;
        } catch (NumberFormatException e) {
            error(n, key, "'" + s + "' is too large");
            return fallback;
        }
    }

    private static String found(Node n) {
        if (n instanceof ScalarNode s) return s.getTag().equals(Tag.NULL) ? ", found nothing" : ", found '" + s.getValue() + "'";
        if (n instanceof SequenceNode) return ", found a list";
        if (n instanceof MappingNode) return ", found a mapping";
        return "";
    }

    /** "did you mean" for a key one edit (or a case change) away from a known one. */
    private static String suggestion(String key, Set<String> allowed) {
        for (String a : allowed) {
            if (a.equalsIgnoreCase(key) || distance(a.toLowerCase(Locale.ROOT), key.toLowerCase(Locale.ROOT)) <= 2) {
                return " (did you mean '" + a + "'?)";
            }
        }
        return "";
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private void error(Node n, String key, String message) {
        Mark m = n == null ? null : n.getStartMark();
        errors.add(new PolicyError(m == null ? 0 : m.getLine() + 1, m == null ? 0 : m.getColumn() + 1, key, message));
    }
}
