package io.vfiobroker.binding;

import io.vfiobroker.domain.PciAddress;

import java.util.List;

/**
 * What a bind or release would do: the group, its members as they are now, the exact sysfs writes, and the
 * refusals (protection, allow/deny lists) that would stop it. A plan with refusals is never executed.
 */
public record BindingPlan(String operation, int group, PciAddress requested, List<Member> members, List<SysfsStep> steps,
                          List<String> refusals, String driverStatus) {

    public BindingPlan {
        members = List.copyOf(members);
        steps = List.copyOf(steps);
        refusals = List.copyOf(refusals);
    }

    /** A group member: its driver now and what happens to it. */
    public record Member(PciAddress address, String driver, String driverOverride, String action) {
    }

    public boolean refused() {
        return !refusals.isEmpty();
    }
}
