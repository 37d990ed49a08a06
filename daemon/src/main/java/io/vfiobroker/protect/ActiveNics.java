package io.vfiobroker.protect;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * Network interfaces the host depends on: one that is up with an address or route, or that carries such a device
 * stacked on it (bond, team, bridge, VLAN, macvlan, nested), protects its PCI parent.
 */
final class ActiveNics {

    /** The kernel nests stacked devices at most MAX_NEST_DEV (8) deep. */
    static final int MAX_STACK_DEPTH = 8;
    private static final int IFF_UP = 0x1;

    private final SysfsHost host;
    private final HostView view;

    ActiveNics(SysfsHost host, HostView view) {
        this.host = host;
        this.view = view;
    }

    /** An upper device of an interface; {@code port} when the lower is enslaved (bond, team, bridge). */
    private record Upper(String name, boolean port) {
    }

    void scan(Map<PciAddress, List<ProtectedDevice>> out) {
        List<String> ifnames = host.list("sys/class/net").stream().filter(ProtectionScanner::isSafeName).sorted().toList();
        if (ifnames.isEmpty()) return;
        NetState net = NetState.read(host, view);
        Map<String, Map<String, Boolean>> uppers = uppers(ifnames);
        for (String ifname : ifnames) {
            Optional<PciAddress> a = ProtectionScanner.pciParent(host, "sys/class/net/" + ifname);
            if (a.isEmpty()) continue;
            for (List<Upper> chain : activeChains(ifname, uppers, net)) {
                String why;
                if (chain.isEmpty()) {
                    why = "is the parent of " + ifname + ", which is up " + net.describe(ifname);
                } else {
                    StringBuilder b = new StringBuilder("is the parent of " + ifname + "; " + ifname);
                    for (int i = 0; i < chain.size(); i++) {
                        Upper u = chain.get(i);
                        b.append(i == 0 ? " " : ", which ").append(u.port() ? "is a port of " : "is the parent of ").append(u.name());
                    }
                    b.append(", which is up ").append(net.describe(chain.get(chain.size() - 1).name()));
                    why = b.toString();
                }
                ProtectionScanner.add(out, new ProtectedDevice(a.get(), ProtectedDevice.Rule.ACTIVE_NIC, why));
            }
        }
    }

    /**
     * Lower name to its uppers, from both ends: upper_* and master on the lower, lower_*, brif/ and
     * bonding/slaves on the upper (older kernels and some drivers fill only one side).
     */
    private Map<String, Map<String, Boolean>> uppers(List<String> ifnames) {
        Map<String, Map<String, Boolean>> out = new HashMap<>();
        BiConsumer<String[], Boolean> edge = (lu, port) -> {
            if (ProtectionScanner.isSafeName(lu[0]) && ProtectionScanner.isSafeName(lu[1]) && !lu[0].equals(lu[1])) {
                out.computeIfAbsent(lu[0], k -> new TreeMap<>()).merge(lu[1], port, Boolean::logicalOr);
            }
        };
        for (String ifname : ifnames) {
            String dir = "sys/class/net/" + ifname;
            for (String e : host.list(dir)) {
                if (e.startsWith("upper_")) {
                    edge.accept(new String[]{ifname, e.substring(6)}, false);
                } else if (e.startsWith("lower_")) {
                    edge.accept(new String[]{e.substring(6), ifname}, false);
                } else if (e.equals("master")) {
                    host.linkName(dir + "/master").ifPresent(m -> edge.accept(new String[]{ifname, m}, true));
                } else if (e.equals("brif")) {
                    for (String port : host.list(dir + "/brif")) edge.accept(new String[]{port, ifname}, true);
                } else if (e.equals("bonding")) {
                    for (String slave : host.read(dir + "/bonding/slaves").orElse("").split("\\s+")) {
                        if (!slave.isEmpty()) edge.accept(new String[]{slave, ifname}, true);
                    }
                }
            }
        }
        return out;
    }

    /**
     * Paths from {@code ifname} up to each active device on it (the empty path: the interface itself), breadth
     * first and at most {@link #MAX_STACK_DEPTH} deep, so a loop in a broken tree ends.
     */
    private List<List<Upper>> activeChains(String ifname, Map<String, Map<String, Boolean>> uppers, NetState net) {
        List<List<Upper>> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        seen.add(ifname);
        List<List<Upper>> level = List.of(List.of());
        for (int depth = 0; depth <= MAX_STACK_DEPTH && !level.isEmpty(); depth++) {
            List<List<Upper>> next = new ArrayList<>();
            for (List<Upper> path : level) {
                String name = path.isEmpty() ? ifname : path.get(path.size() - 1).name();
                if (net.active(name) && up(name)) out.add(path);
                if (depth == MAX_STACK_DEPTH) continue;
                for (Map.Entry<String, Boolean> u : uppers.getOrDefault(name, Map.of()).entrySet()) {
                    if (!seen.add(u.getKey())) continue;
                    List<Upper> longer = new ArrayList<>(path);
                    longer.add(new Upper(u.getKey(), u.getValue()));
                    next.add(longer);
                }
            }
            level = next;
        }
        return out;
    }

    /** operstate up, or unknown (drivers without carrier reporting) with IFF_UP set. */
    private boolean up(String ifname) {
        String dir = "sys/class/net/" + ifname;
        String state = host.read(dir + "/operstate").orElse("unknown");
        if (state.equals("up")) return true;
        if (!state.equals("unknown")) return false;
        String flags = host.read(dir + "/flags").orElse("0x0");
        try {
            return (Long.decode(flags) & IFF_UP) != 0;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
