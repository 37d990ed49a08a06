package io.vfiobroker.policy;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Which devices a rule (or a binding list) covers. Every criterion given must hold (AND); a criterion's list
 * matches when any entry does (OR). {@code any} alone selects every device.
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
 */
public record DeviceSelector(boolean any, List<PciAddress> addresses, List<String> vendorDevices, List<String> classes,
                             List<Role> roles, List<Integer> numaNodes, List<Integer> iommuGroups, List<String> names,
                             List<String> labels) {

    public enum Role { PF, VF, PLAIN }

    public static final DeviceSelector ANY = new DeviceSelector(true, List.of(), List.of(), List.of(), List.of(), List.of(),
            List.of(), List.of(), List.of());

    public DeviceSelector {
        addresses = List.copyOf(addresses);
        vendorDevices = List.copyOf(vendorDevices);
        classes = List.copyOf(classes);
        roles = List.copyOf(roles);
        numaNodes = List.copyOf(numaNodes);
        iommuGroups = List.copyOf(iommuGroups);
        names = List.copyOf(names);
        labels = List.copyOf(labels);
    }

    /** Whether the selector covers the device; {@code why} (if not null) gets one clause per criterion checked. */
    public boolean matches(Device d, Map<String, DeviceSelector> labelSets, List<String> why) {
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
                DeviceSelector s = labelSets.get(l);
                // Labels cannot refer to labels (the parser refuses it), so this recursion is one level deep.
                if (s != null && s.matches(d, labelSets, null)) hit.add(l);
            }
            ok &= check(why, "label", hit.isEmpty() ? "none of " + labels : String.join(",", hit), !hit.isEmpty());
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
