package io.vfiobroker.binding;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Which devices may be bound at all (SPDK's PCI_ALLOWED / PCI_BLOCKED; block wins), which protected devices an
 * admin explicitly released for binding, and whether released devices stay on vfio-pci.
 * Selectors: an address ("0000:3b:00.1"), "vendor:device" ("8086:154c") or "class:XXXXXX" (prefix, "class:02").
 */
public record BindingRules(List<String> allow, List<String> deny, Set<PciAddress> protectedOverrides, boolean keepBound) {

    public static final BindingRules DEFAULT = new BindingRules(List.of(), List.of(), Set.of(), false);

    public BindingRules {
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
        protectedOverrides = Set.copyOf(protectedOverrides);
        for (String s : allow) validate(s, "allow");
        for (String s : deny) validate(s, "deny");
    }

    private static void validate(String selector, String list) {
        String s = selector.toLowerCase(Locale.ROOT);
        boolean ok = PciAddress.isValid(s) || s.matches("[0-9a-f]{4}:[0-9a-f]{4}") || s.matches("class:[0-9a-f]{2,6}");
        if (!ok) {
            throw new IllegalArgumentException("binding " + list + " selector '" + selector
                    + "' is not an address (DDDD:BB:DD.F), vendor:device (8086:154c) or class:XXXXXX");
        }
    }

    /** Why the lists forbid binding this device, or empty when they allow it. */
    public Optional<String> refusal(Device d) {
        for (String s : deny) {
            if (matches(s, d)) return Optional.of(d.address() + " matches deny selector '" + s + "'");
        }
        if (!allow.isEmpty() && allow.stream().noneMatch(s -> matches(s, d))) {
            return Optional.of(d.address() + " (" + d.vendorDevice() + ", class " + d.pciClass() + ") matches no allow selector");
        }
        return Optional.empty();
    }

    static boolean matches(String selector, Device d) {
        String s = selector.toLowerCase(Locale.ROOT);
        if (PciAddress.isValid(s)) return PciAddress.parse(s).equals(d.address());
        if (s.startsWith("class:")) return d.pciClass().hex().startsWith(s.substring(6));
        return s.equals(d.vendorDevice());
    }
}
