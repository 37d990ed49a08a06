package io.vfiobroker.protect;

import io.vfiobroker.host.SysfsHost;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Routes and addresses per interface, from procfs as dpdk-devbind sees them through {@code ip route}, without
 * the {@code ip} binary: IPv4 routes from net/route, IPv4 local addresses from net/fib_trie (attributed to the
 * interface whose link route covers them), IPv6 addresses from net/if_inet6 (link-local left out: every up
 * interface has one).
 */
final class NetState {

    private static final int MAX_PROC_TEXT = 4 << 20;

    private final Map<String, List<String>> routes = new HashMap<>();
    private final Map<String, Set<String>> addresses = new HashMap<>();

    private NetState() {
    }

    static NetState read(SysfsHost host, HostView view) {
        NetState s = new NetState();
        List<long[]> linkRoutes = new ArrayList<>();
        List<String> linkRouteIf = new ArrayList<>();
        for (String line : host.readText(view.path("net/route"), MAX_PROC_TEXT).orElse("").lines().skip(1).toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 8) continue;
            long dest = ipv4(f[1]);
            long gw = ipv4(f[2]);
            long mask = ipv4(f[7]);
            if (dest < 0 || gw < 0 || mask < 0) continue;
            int len = Long.bitCount(mask);
            String text = (len == 0 ? "default" : dotted(dest) + "/" + len) + (gw != 0 ? " via " + dotted(gw) : "");
            s.routes.computeIfAbsent(f[0], k -> new ArrayList<>()).add(text);
            if (gw == 0 && len > 0) {
                linkRoutes.add(new long[]{dest, mask, len});
                linkRouteIf.add(f[0]);
            }
        }
        for (long local : localIpv4(host.readText(view.path("net/fib_trie"), MAX_PROC_TEXT).orElse(""))) {
            // The longest link route that covers the address names its interface.
            int best = -1;
            for (int i = 0; i < linkRoutes.size(); i++) {
                long[] r = linkRoutes.get(i);
                if ((local & r[1]) == r[0] && (best < 0 || r[2] > linkRoutes.get(best)[2])) best = i;
            }
            if (best >= 0) {
                s.addresses.computeIfAbsent(linkRouteIf.get(best), k -> new LinkedHashSet<>())
                        .add(dotted(local) + "/" + linkRoutes.get(best)[2]);
            }
        }
        for (String line : host.readText(view.path("net/if_inet6"), MAX_PROC_TEXT).orElse("").lines().toList()) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 6 || f[0].length() != 32 || f[0].startsWith("fe80") || f[5].equals("lo")) continue;
            try {
                s.addresses.computeIfAbsent(f[5], k -> new LinkedHashSet<>()).add(ipv6(f[0]) + "/" + Integer.parseInt(f[2], 16));
            } catch (NumberFormatException e) {
                // a line the kernel would not write
            }
        }
        return s;
    }

    boolean active(String ifname) {
        return routes.containsKey(ifname) || addresses.containsKey(ifname);
    }

    /** "with address 10.0.0.5/24" or "and carries routes default via 10.0.0.1, 10.0.0.0/24". */
    String describe(String ifname) {
        Set<String> a = addresses.get(ifname);
        if (a != null && !a.isEmpty()) return "with address " + firstFew(new ArrayList<>(a));
        return "and carries routes " + firstFew(routes.getOrDefault(ifname, List.of()));
    }

    private static String firstFew(List<String> items) {
        if (items.size() <= 3) return String.join(", ", items);
        return String.join(", ", items.subList(0, 3)) + " and " + (items.size() - 3) + " more";
    }

    /** net/route prints addresses as the host-order hex of the network-order word: 0100A8C0 is 192.168.0.1. */
    private static long ipv4(String hex) {
        if (hex.length() != 8) return -1;
        try {
            long le = Long.parseLong(hex, 16);
            return ((le & 0xff) << 24) | ((le & 0xff00) << 8) | ((le >> 8) & 0xff00) | ((le >> 24) & 0xff);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String dotted(long a) {
        return ((a >> 24) & 0xff) + "." + ((a >> 16) & 0xff) + "." + ((a >> 8) & 0xff) + "." + (a & 0xff);
    }

    /** Leaves followed by a "/32 host LOCAL" line are the host's own addresses (either table lists them). */
    static Set<Long> localIpv4(String fibTrie) {
        Set<Long> out = new LinkedHashSet<>();
        String leaf = null;
        for (String line : fibTrie.lines().toList()) {
            String t = line.trim();
            if (t.startsWith("|-- ")) {
                leaf = t.substring(4).trim();
            } else if (t.startsWith("+-- ") || t.endsWith(":")) {
                leaf = null;
            } else if (leaf != null && t.startsWith("/32 ") && t.endsWith(" LOCAL") && t.contains(" host ")) {
                long a = parseDotted(leaf);
                if (a >= 0 && (a >> 24) != 127) out.add(a);
            }
        }
        return out;
    }

    private static long parseDotted(String s) {
        String[] p = s.split("\\.");
        if (p.length != 4) return -1;
        long a = 0;
        for (String part : p) {
            try {
                int v = Integer.parseInt(part);
                if (v < 0 || v > 255) return -1;
                a = (a << 8) | v;
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        return a;
    }

    /** RFC 5952 text: lower case, leading zeros dropped, the longest run of two or more zero groups as "::". */
    static String ipv6(String hex32) {
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) g[i] = Integer.parseInt(hex32.substring(i * 4, i * 4 + 4), 16);
        int bestStart = -1;
        int bestLen = 0;
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0) j++;
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        if (bestLen < 2) bestStart = -1;
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                b.append("::");
                i += bestLen - 1;
                continue;
            }
            if (b.length() > 0 && b.charAt(b.length() - 1) != ':') b.append(':');
            b.append(Integer.toHexString(g[i]));
        }
        return b.toString();
    }
}
