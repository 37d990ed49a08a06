package io.vfiobroker.cdi;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A Container Device Interface spec: one kind ("vendor/class"), its devices, and edits applied whenever any of
 * them is requested. Only what vfio-broker uses is modelled: env, device nodes, mounts.
 */
public record CdiSpec(String kind, List<Device> devices, ContainerEdits containerEdits) {

    /** The newest CDI spec version this writer knows; files carry the oldest one that covers their fields. */
    public static final String CURRENT_VERSION = "1.1.0";

    // vendor: DNS-subdomain-like; class: alphanumerics with '-', '_', '.' inside (dots need 0.6.0).
    private static final Pattern VENDOR = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?");
    private static final Pattern CLASS = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?");
    // Device names: alphanumerics with '_', '-', '.', ':' inside; a leading digit needs 0.5.0.
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?");

    public record Device(String name, ContainerEdits containerEdits) {
    }

    public record ContainerEdits(List<String> env, List<DeviceNode> deviceNodes, List<Mount> mounts) {
        public static final ContainerEdits EMPTY = new ContainerEdits(List.of(), List.of(), List.of());

        public ContainerEdits {
            env = List.copyOf(env);
            deviceNodes = List.copyOf(deviceNodes);
            mounts = List.copyOf(mounts);
        }

        boolean isEmpty() {
            return env.isEmpty() && deviceNodes.isEmpty() && mounts.isEmpty();
        }
    }

    /** @param hostPath null when it equals {@code path} (hostPath itself needs 0.5.0) */
    public record DeviceNode(String path, String hostPath, String type, String permissions) {
    }

    /** @param type null unless needed (a mount type needs 0.4.0) */
    public record Mount(String hostPath, String containerPath, List<String> options, String type) {
        public Mount {
            options = List.copyOf(options);
        }
    }

    public CdiSpec {
        devices = List.copyOf(devices);
        if (containerEdits == null) containerEdits = ContainerEdits.EMPTY;
        int slash = kind.indexOf('/');
        if (slash <= 0 || kind.indexOf('/', slash + 1) >= 0 || !VENDOR.matcher(kind.substring(0, slash)).matches()
                || !CLASS.matcher(kind.substring(slash + 1)).matches()) {
            throw new IllegalArgumentException("CDI kind '" + kind + "' is not vendor.com/class");
        }
        if (devices.isEmpty()) throw new IllegalArgumentException("a CDI spec needs at least one device (kind " + kind + ")");
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Device d : devices) {
            if (!NAME.matcher(d.name()).matches()) throw new IllegalArgumentException("CDI device name '" + d.name() + "' is not valid");
            if (!names.add(d.name())) throw new IllegalArgumentException("CDI device '" + d.name() + "' appears twice in " + kind);
        }
    }

    /** "vendor.com/class=name", as runtimes and the kubelet's cdi_devices want it. */
    public String qualifiedName(String device) {
        return kind + "=" + device;
    }

    /**
     * The oldest spec version covering the fields used, by the CDI project's own rules: mount type 0.4.0;
     * device names starting with a digit or device nodes with hostPath 0.5.0; annotations (unused here) or a
     * dot in the class 0.6.0. 0.3.0 is the oldest still accepted.
     */
    public String minimumVersion() {
        List<ContainerEdits> all = new ArrayList<>();
        all.add(containerEdits);
        devices.forEach(d -> all.add(d.containerEdits()));
        String cls = kind.substring(kind.indexOf('/') + 1);
        if (cls.contains(".")) return "0.6.0";
        boolean digitName = devices.stream().anyMatch(d -> Character.isDigit(d.name().charAt(0)));
        boolean hostPath = all.stream().flatMap(e -> e.deviceNodes().stream()).anyMatch(n -> n.hostPath() != null);
        if (digitName || hostPath) return "0.5.0";
        if (all.stream().flatMap(e -> e.mounts().stream()).anyMatch(m -> m.type() != null)) return "0.4.0";
        return "0.3.0";
    }

    /** The JSON object, keys in the spec's order, empty lists and edits left out. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cdiVersion", minimumVersion());
        m.put("kind", kind);
        List<Object> devs = new ArrayList<>();
        for (Device d : devices) {
            Map<String, Object> dm = new LinkedHashMap<>();
            dm.put("name", d.name());
            dm.put("containerEdits", edits(d.containerEdits()));
            devs.add(dm);
        }
        m.put("devices", devs);
        if (!containerEdits.isEmpty()) m.put("containerEdits", edits(containerEdits));
        return m;
    }

    private static Map<String, Object> edits(ContainerEdits e) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (!e.env().isEmpty()) m.put("env", e.env());
        if (!e.deviceNodes().isEmpty()) {
            List<Object> nodes = new ArrayList<>();
            for (DeviceNode n : e.deviceNodes()) {
                Map<String, Object> nm = new LinkedHashMap<>();
                nm.put("path", n.path());
                if (n.hostPath() != null) nm.put("hostPath", n.hostPath());
                if (n.type() != null) nm.put("type", n.type());
                if (n.permissions() != null) nm.put("permissions", n.permissions());
                nodes.add(nm);
            }
            m.put("deviceNodes", nodes);
        }
        if (!e.mounts().isEmpty()) {
            List<Object> mounts = new ArrayList<>();
            for (Mount mt : e.mounts()) {
                Map<String, Object> mm = new LinkedHashMap<>();
                mm.put("hostPath", mt.hostPath());
                mm.put("containerPath", mt.containerPath());
                if (!mt.options().isEmpty()) mm.put("options", mt.options());
                if (mt.type() != null) mm.put("type", mt.type());
                mounts.add(mm);
            }
            m.put("mounts", mounts);
        }
        return m;
    }
}
