package io.vfiobroker.policy;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which devices a rule, a binding list or a pool covers: vfio-broker's one selector language (docs/selectors.md).
 * Every criterion given must hold (AND); a criterion's list matches when any entry does (OR). {@code any} alone
 * selects every device.
 *
 * @param any           select every device
 * @param addresses     exact PCI addresses
 * @param vendorDevices "vvvv:dddd", or "vvvv:*" for a whole vendor
 * @param classes       hex class prefixes: "02" (network), "0108" (NVMe), "010802" (full code)
 * @param roles         SR-IOV role: PF (can have VFs), VF (has a physfn), PLAIN (neither)
 * @param numaNodes     NUMA node of the device (-1: none reported)
 * @param iommuGroups   IOMMU group numbers
 * @param names         globs ('*', '?') over "vendor name device name" from pci.ids, case-insensitive
 * @param labels        names from the file's {@code labels:} section, each a selector of its own
 * @param drivers       (pools only) the driver before vfio-broker bound the device, else its current one
 * @param pfNames       (pools only) the VF's parent PF by netdev name or PCI address, optionally with a VF index range
 */
public record DeviceSelector(boolean any, List<PciAddress> addresses, List<String> vendorDevices, List<String> classes,
                             List<Role> roles, List<Integer> numaNodes, List<Integer> iommuGroups, List<String> names,
                             List<String> labels, List<String> drivers, List<PfName> pfNames) {

    public enum Role { PF, VF, PLAIN }

    public static final DeviceSelector ANY = new DeviceSelector(true, List.of(), List.of(), List.of(), List.of(), List.of(),
            List.of(), List.of(), List.of(), List.of(), List.of());

    /** "ens1f0" or "0000:3b:00.0", and "ens1f0#0-3" (or "#2") for those VF indices only. */
    public record PfName(String name, int firstVf, int lastVf) {
        public static PfName parse(String s) {
            int hash = s.indexOf('#');
            if (hash < 0) return new PfName(s, 0, Integer.MAX_VALUE);
            String[] range = s.substring(hash + 1).split("-", 2);
            try {
                int lo = Integer.parseInt(range[0].strip());
                int hi = range.length > 1 ? Integer.parseInt(range[1].strip()) : lo;
                if (hash > 0 && lo >= 0 && hi >= lo) return new PfName(s.substring(0, hash), lo, hi);
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException("'" + s + "' is not a PF name or address, optionally with #first-last VF indices");
        }

        boolean matches(Device vf, SelectorFacts facts) {
            if (!facts.namesPf(vf.physicalFunction(), name)) return false;
            if (firstVf == 0 && lastVf == Integer.MAX_VALUE) return true;
            int i = facts.vfIndex(vf);
            return i >= firstVf && i <= lastVf;
        }

        @Override
        public String toString() {
            return lastVf == Integer.MAX_VALUE && firstVf == 0 ? name : name + "#" + firstVf + "-" + lastVf;
        }
    }

    public DeviceSelector {
        addresses = List.copyOf(addresses);
        vendorDevices = List.copyOf(vendorDevices);
        classes = List.copyOf(classes);
        roles = List.copyOf(roles);
        numaNodes = List.copyOf(numaNodes);
        iommuGroups = List.copyOf(iommuGroups);
        names = List.copyOf(names);
        labels = List.copyOf(labels);
        drivers = List.copyOf(drivers);
        pfNames = List.copyOf(pfNames);
    }

    /**
     * A pool's selector as configuration binding hands it over (criterion → values, the keys of the policy's
     * selectors); every problem in one {@link IllegalArgumentException} naming {@code where}.
     */
    public static DeviceSelector pool(Map<String, ? extends List<String>> criteria, String where) {
        return SelectorParser.pool(criteria, where);
    }

    /** As below, with the policy's labels as the only facts beyond the device. */
    public boolean matches(Device d, Map<String, DeviceSelector> labelSets, List<String> why) {
        return matches(d, SelectorFacts.of(labelSets), why);
    }

    /** Whether the selector covers the device; {@code why} (if not null) gets one clause per criterion checked. */
    public boolean matches(Device d, SelectorFacts facts, List<String> why) {
        if (any) {
            note(why, "any device");
            return true;
        }
        boolean ok = true;
        if (!addresses.isEmpty()) ok &= check(why, "address", d.address().toString(), addresses.contains(d.address()));
        if (!vendorDevices.isEmpty()) {
            ok &= check(why, "vendorDevice", d.vendorDevice(), vendorDevices.stream().anyMatch(v -> vendorDeviceMatches(v, d)));
        }
        if (!classes.isEmpty()) {
            String hex = d.pciClass().hex();
            ok &= check(why, "class", hex, classes.stream().anyMatch(hex::startsWith));
        }
        if (!roles.isEmpty()) ok &= check(why, "role", role(d).name().toLowerCase(), roles.contains(role(d)));
        if (!numaNodes.isEmpty()) ok &= check(why, "numaNode", Integer.toString(d.numaNode()), numaNodes.contains(d.numaNode()));
        if (!iommuGroups.isEmpty()) {
            ok &= check(why, "iommuGroup", String.valueOf(d.iommuGroup()), d.iommuGroup() != null && iommuGroups.contains(d.iommuGroup()));
        }
        if (!names.isEmpty()) {
            String full = displayName(d);
            ok &= check(why, "name", "'" + full + "'", names.stream().anyMatch(g -> glob(g).matcher(full).matches()));
        }
        if (!labels.isEmpty()) {
            List<String> hit = new ArrayList<>();
            for (String l : labels) {
                DeviceSelector s = facts.labels().get(l);
                // Labels cannot refer to labels (the parser refuses it), so this recursion is one level deep.
                if (s != null && s.matches(d, facts, null)) hit.add(l);
            }
            ok &= check(why, "label", hit.isEmpty() ? "none of " + labels : String.join(",", hit), !hit.isEmpty());
        }
        if (!drivers.isEmpty()) {
            String before = facts.driverBefore(d);
            ok &= check(why, "driver", String.valueOf(before), before != null && drivers.contains(before));
        }
        // Reads sysfs: skipped once the answer is no, unless the caller wants every clause.
        if (!pfNames.isEmpty() && (ok || why != null)) {
            ok &= check(why, "pfName", String.valueOf(d.physicalFunction()),
                    d.physicalFunction() != null && pfNames.stream().anyMatch(p -> p.matches(d, facts)));
        }
        return ok;
    }

    public static Role role(Device d) {
        if (d.isVirtualFunction()) return Role.VF;
        if (d.sriov() != null) return Role.PF;
        return Role.PLAIN;
    }

    static String displayName(Device d) {
        String v = d.vendorName() == null ? "" : d.vendorName();
        String n = d.deviceName() == null ? "" : d.deviceName();
        return (v + " " + n).strip();
    }

    private static boolean vendorDeviceMatches(String pattern, Device d) {
        int colon = pattern.indexOf(':');
        String v = pattern.substring(0, colon);
        String dev = pattern.substring(colon + 1);
        return v.equalsIgnoreCase(String.valueOf(d.vendorId())) && (dev.equals("*") || dev.equalsIgnoreCase(String.valueOf(d.deviceId())));
    }

    static Pattern glob(String g) {
        StringBuilder re = new StringBuilder();
        for (char c : g.toCharArray()) {
            if (c == '*') re.append(".*");
            else if (c == '?') re.append('.');
            else re.append(Pattern.quote(String.valueOf(c)));
        }
        return Pattern.compile(re.toString(), Pattern.CASE_INSENSITIVE | Pattern.DOTALL);
    }

    private static boolean check(List<String> why, String key, String value, boolean ok) {
        note(why, key + " " + value + (ok ? " matches" : " does not match"));
        return ok;
    }

    private static void note(List<String> why, String s) {
        if (why != null) why.add(s);
    }
}
