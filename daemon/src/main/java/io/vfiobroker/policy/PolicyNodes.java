package io.vfiobroker.policy;

import io.vfiobroker.domain.PciAddress;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Reads values out of a policy file's YAML node tree. Each reader reports its own error, with line, column and
 * key, and returns null (or a fallback) on a bad value, so that one pass collects every problem.
 */
final class PolicyNodes {

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(|K|KiB|M|MiB|G|GiB|T|TiB)");

    private final List<PolicyError> errors = new ArrayList<>();

    List<PolicyError> errors() {
        return errors;
    }

    void add(PolicyError e) {
        errors.add(e);
    }

    /** A mapping's entries by key; unknown (when {@code allowed} is given) and duplicate keys are errors. */
    Map<String, NodeTuple> mapping(Node n, String path, Set<String> allowed) {
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
                error(k, full, "unknown key '" + key + "'" + suggestion(key, allowed) + "; expected one of " + String.join(", ", new TreeSet<>(allowed)));
            } else if (out.containsKey(key)) {
                error(k, full, "duplicate key '" + key + "' (first on line " + (out.get(key).getKeyNode().getStartMark().getLine() + 1) + ")");
            } else {
                out.put(key, t);
            }
        }
        return out;
    }

    List<Node> sequence(Node n, String path) {
        if (n instanceof SequenceNode s) return s.getValue();
        error(n, path, "expected a list ('- ' items)" + found(n));
        return List.of();
    }

    /** A scalar or a list of scalars: 'uid: 1000' and 'uid: [1000, 1001]' both work. */
    List<Node> scalars(Node n, String path) {
        if (n instanceof ScalarNode) return List.of(n);
        if (n instanceof SequenceNode s) {
            if (s.getValue().isEmpty()) error(n, path, "is an empty list; leave the key out instead");
            return s.getValue();
        }
        error(n, path, "expected a value or a list of values" + found(n));
        return List.of();
    }

    interface Item<T> {
        T read(Node n, String key);
    }

    <T> List<T> list(Map<String, NodeTuple> m, String key, String path, Item<T> item) {
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

    String string(Node n, String key) {
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

    String matching(Node n, String key, Pattern p, String expected, Function<String, String> norm) {
        String s = string(n, key);
        if (s == null) return null;
        if (!p.matcher(s).matches()) {
            error(n, key, "'" + s + "' is not " + expected);
            return null;
        }
        return norm.apply(s);
    }

    PciAddress address(Node n, String key) {
        String s = string(n, key);
        if (s == null) return null;
        try {
            return PciAddress.parse(s);
        } catch (IllegalArgumentException e) {
            error(n, key, e.getMessage());
            return null;
        }
    }

    Integer integer(Node n, String key, int min, int max) {
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
    boolean bool(Node n, String key) {
        String s = string(n, key);
        if (s == null) return false;
        if (s.equals("true")) return true;
        if (!s.equals("false")) error(n, key, "'" + s + "' is not true or false");
        return false;
    }

    boolean anyFlag(Map<String, NodeTuple> m, String path) {
        if (!m.containsKey("any")) return false;
        Node v = m.get("any").getValueNode();
        if (v instanceof ScalarNode s && s.getValue().equals("false")) {
            error(v, path + ".any", "'any: false' means nothing; leave it out");
            return false;
        }
        return bool(v, path + ".any");
    }

    <E extends Enum<E>> E enumValue(Node n, String key, Class<E> type) {
        String s = string(n, key);
        if (s == null) return null;
        for (E e : type.getEnumConstants()) if (e.name().equalsIgnoreCase(s)) return e;
        error(n, key, "'" + s + "' is not one of " + String.join(", ",
                Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT)).toList()));
        return null;
    }

    boolean isUnlimited(Node n) {
        return n instanceof ScalarNode s && s.getValue().equals("unlimited");
    }

    /** Bytes: a plain number, or a number with K/M/G/T (binary, as systemd's LimitMEMLOCK= reads them), or "unlimited". */
    long size(Node n, String key, long fallback) {
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

    static String found(Node n) {
        if (n instanceof ScalarNode s) return s.getTag().equals(Tag.NULL) ? ", found nothing" : ", found '" + s.getValue() + "'";
        if (n instanceof SequenceNode) return ", found a list";
        if (n instanceof MappingNode) return ", found a mapping";
        return "";
    }

    /** "did you mean" for a key one edit (or a case change) away from a known one. */
    static String suggestion(String key, Set<String> allowed) {
        for (String a : allowed) {
            if (a.equalsIgnoreCase(key) || distance(a.toLowerCase(Locale.ROOT), key.toLowerCase(Locale.ROOT)) <= 2) {
                return " (did you mean '" + a + "'?)";
            }
        }
        return "";
    }

    static int distance(String a, String b) {
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

    void error(Node n, String key, String message) {
        Mark m = n == null ? null : n.getStartMark();
        errors.add(new PolicyError(m == null ? 0 : m.getLine() + 1, m == null ? 0 : m.getColumn() + 1, key, message));
    }
}
