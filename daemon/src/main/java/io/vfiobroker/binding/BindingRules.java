package io.vfiobroker.binding;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.policy.BindingPolicy;
import io.vfiobroker.policy.DeviceSelector;
import io.vfiobroker.policy.Policy;

import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Which devices may be bound at all, and which protected devices an admin released for binding: the policy file's
 * {@code binding:} section, whose allow and deny lists are the policy's device selectors (docs/selectors.md).
 */
public record BindingRules(BindingPolicy binding, Map<String, DeviceSelector> labels) {

    public static final BindingRules DEFAULT = new BindingRules(BindingPolicy.OPEN, Map.of());

    public BindingRules {
        labels = Map.copyOf(labels);
    }

    public static BindingRules of(Policy policy) {
        return new BindingRules(policy.binding(), policy.labels());
    }

    /** Why the rules forbid binding this device, or empty when they allow it. */
    public Optional<String> refusal(Device d) {
        BindingPolicy.Verdict v = binding.check(d, labels);
        return v.permitted() ? Optional.empty() : Optional.of(v.reason());
    }

    /** Protected devices an admin released for binding by exact address. */
    public Set<PciAddress> protectedOverrides() {
        return Set.copyOf(binding.protectedOverrides());
    }
}
