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
public interface BindingRules {

    BindingRules DEFAULT = lists(List.of(), List.of(), Set.of());

    /** Why the rules forbid binding this device, or empty when they allow it. */
    Optional<String> refusal(Device d);

    /** Protected devices an admin released for binding by exact address. */
    Set<PciAddress> protectedOverrides();

    static BindingRules lists(List<String> allow, List<String> deny, Set<PciAddress> protectedOverrides) {
        return new Lists(allow, deny, protectedOverrides);
    }

    /** The policy file's {@code binding:} section. */
    static BindingRules of(io.vfiobroker.policy.Policy policy) {
        io.vfiobroker.policy.BindingPolicy b = policy.binding();
        return new BindingRules() {
            @Override
            public Optional<String> refusal(Device d) {
                io.vfiobroker.policy.BindingPolicy.Verdict v = b.check(d, policy.labels());
                return v.permitted() ? Optional.empty() : Optional.of(v.reason());
            }

            @Override
            public Set<PciAddress> protectedOverrides() {
                return Set.copyOf(b.protectedOverrides());
            }
        };
    }

    /** Plain selector lists (the CLI's and tests'). */
    record Lists(List<String> allow, List<String> deny, Set<PciAddress> protectedOverrides) implements BindingRules {
    public Lists {
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

    @Override
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
}
