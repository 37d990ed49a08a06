package io.vfiobroker.policy;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A parsed, validated policy file.
 *
 * @param version  file format version (1)
 * @param defaults limits every allow rule starts from
 * @param labels   named device selectors rules may refer to
 * @param binding  which devices may be bound to vfio-pci at all
 * @param rules    in file order
 * @param leases   how leases are taken back (grace, withdrawn grants)
 * @param text     the file's text, as it was when loaded
 */
public record Policy(int version, Limits defaults, Map<String, DeviceSelector> labels, BindingPolicy binding,
                     List<Rule> rules, LeasePolicy leases, String text) {

    public Policy {
        labels = Map.copyOf(labels);
        rules = List.copyOf(rules);
        leases = leases == null ? LeasePolicy.DEFAULT : leases;
    }

    /** No rules: every request refused. What runs when the file is missing. */
    public static Policy defaultDeny() {
        return new Policy(1, Limits.BUILT_IN, Map.of(), BindingPolicy.OPEN, List.of(), LeasePolicy.DEFAULT, "");
    }

    public Optional<Rule> rule(String name) {
        return rules.stream().filter(r -> r.name().equals(name)).findFirst();
    }
}
