package io.vfiobroker.policy;

import io.vfiobroker.domain.PciAddress;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/** Reads one {@link DeviceSelector}, the same way for the policy file and for pools (docs/selectors.md). */
final class SelectorParser {

    /** Where a selector stands: which of the criteria that need more than the device record it may use. */
    enum Scope {
        /** A rule or binding list: labels, no pool criteria (the policy decides on facts binding does not change). */
        POLICY,
        /** Inside {@code labels:}: a label cannot refer to another. */
        LABEL,
        /** A device plugin or DRA pool: driver and pfName, no labels (pools are not part of the policy file). */
        POOL
    }

    static final Set<String> KEYS = Set.of("any", "address", "vendorDevice", "class", "role", "numaNode", "iommuGroup", "name",
            "label", "driver", "pfName");
    private static final Set<String> POOL_ONLY = Set.of("driver", "pfName");
    // The pool keys before pools spoke the policy's language, named in the error that meets them.
    private static final Set<String> RENAMED = Set.of("vendors", "devices", "drivers", "pfNames", "addresses", "numaNodes");
    private static final Pattern VENDOR_DEVICE = Pattern.compile("[0-9a-fA-F]{4}:([0-9a-fA-F]{4}|\\*)");
    private static final Pattern CLASS = Pattern.compile("[0-9a-fA-F]{2}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}");

    private final PolicyNodes nodes;

    SelectorParser(PolicyNodes nodes) {
        this.nodes = nodes;
    }

    /**
     * A pool's selector as configuration binding hands it over (criterion → values); every problem in one
     * {@link IllegalArgumentException} that names {@code where}.
     */
    static DeviceSelector pool(Map<String, ? extends List<String>> criteria, String where) {
        PolicyNodes nodes = new PolicyNodes();
        // In key order, so that errors come out the same every time; keys as written in any case or kebab form.
        // Binding hands every value over as a list; one entry is the scalar it was written as ("any: true").
        Map<String, Object> canonical = new TreeMap<>();
        (criteria == null ? Map.<String, List<String>>of() : criteria)
                .forEach((k, v) -> canonical.put(canonical(k), v != null && v.size() == 1 ? v.get(0) : v));
        DeviceSelector s = new SelectorParser(nodes).selector(new Yaml().represent(canonical), where, Set.of(), Scope.POOL);
        if (!nodes.errors().isEmpty() || s == null) {
            boolean old = canonical.keySet().stream().anyMatch(RENAMED::contains);
            throw new IllegalArgumentException(nodes.errors().stream().map(e -> e.key() + ": " + e.message()).collect(Collectors.joining("; "))
                    + (old ? "; pools use the policy's selector keys: vendors and devices became vendorDevice (\"8086:154c\","
                    + " \"8086:*\"), drivers driver, pfNames pfName, addresses address, numaNodes numaNode" : "") + " (see docs/selectors.md)");
        }
        return s;
    }

    private static String canonical(String key) {
        String plain = key.replace("-", "");
        return KEYS.stream().filter(k -> k.equalsIgnoreCase(plain)).findFirst().orElse(key);
    }

    /** A device selector; {@code labels} are the names defined under {@code labels:}. */
    DeviceSelector selector(Node n, String path, Set<String> labels, Scope scope) {
        Map<String, NodeTuple> m = nodes.mapping(n, path, KEYS);
        if (m == null) return null;
        if (m.isEmpty()) {
            // An unknown key has been reported already; one error per mistake.
            if (((MappingNode) n).getValue().isEmpty()) nodes.error(n, path, "selects nothing; give at least one criterion, or 'any: true'");
            return null;
        }
        if (scope != Scope.POOL) {
            for (String k : POOL_ONLY) {
                if (m.containsKey(k)) nodes.error(m.get(k).getKeyNode(), path + "." + k, "'" + k + "' selects by facts only pools track"
                        + " (the driver before binding, the PF's netdev); use it in a pool's selectors, not in the policy");
            }
        }
        boolean any = nodes.anyFlag(m, path);
        if (any && m.size() > 1) nodes.error(n, path, "'any: true' selects every device; other criteria beside it would be ignored, so remove them");
        List<PciAddress> addresses = nodes.list(m, "address", path, nodes::address);
        List<String> vds = nodes.list(m, "vendorDevice", path, (node, key) ->
                nodes.matching(node, key, VENDOR_DEVICE, "'vvvv:dddd' in hex, or 'vvvv:*'", s -> s.toLowerCase(Locale.ROOT)));
        List<String> classes = nodes.list(m, "class", path, (node, key) ->
                nodes.matching(node, key, CLASS, "2, 4 or 6 hex digits (class, class+subclass, or the full code)", s -> s.toLowerCase(Locale.ROOT)));
        List<DeviceSelector.Role> roles = nodes.list(m, "role", path, (node, key) -> nodes.enumValue(node, key, DeviceSelector.Role.class));
        List<Integer> numa = nodes.list(m, "numaNode", path, (node, key) -> nodes.integer(node, key, -1, 1023));
        List<Integer> groups = nodes.list(m, "iommuGroup", path, (node, key) -> nodes.integer(node, key, 0, Integer.MAX_VALUE));
        List<String> names = nodes.list(m, "name", path, nodes::string);
        List<String> drivers = scope == Scope.POOL ? nodes.list(m, "driver", path, nodes::string) : List.of();
        List<DeviceSelector.PfName> pfs = scope == Scope.POOL ? nodes.list(m, "pfName", path, (node, key) -> {
            String s = nodes.string(node, key);
            try {
                return s == null ? null : DeviceSelector.PfName.parse(s);
            } catch (IllegalArgumentException e) {
                nodes.error(node, key, e.getMessage());
                return null;
            }
        }) : List.of();
        return new DeviceSelector(any, addresses, vds, classes, roles, numa, groups, names, labels(m, path, labels, scope), drivers, pfs);
    }

    private List<String> labels(Map<String, NodeTuple> m, String path, Set<String> labels, Scope scope) {
        if (!m.containsKey("label")) return List.of();
        if (scope != Scope.POLICY) {
            nodes.error(m.get("label").getKeyNode(), path + ".label", scope == Scope.LABEL ? "a label cannot refer to another label"
                    : "a pool cannot use the policy file's labels; write the criteria out");
            return List.of();
        }
        return nodes.list(m, "label", path, (node, key) -> {
            String s = nodes.string(node, key);
            if (s != null && !labels.contains(s)) {
                nodes.error(node, key, "no label '" + s + "' is defined under 'labels:'" + (labels.isEmpty() ? "" : " (defined: " + String.join(", ", labels) + ")"));
                return null;
            }
            return s;
        });
    }
}
