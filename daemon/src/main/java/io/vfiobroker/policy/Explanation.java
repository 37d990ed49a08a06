package io.vfiobroker.policy;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.interrupts.InterruptSafety;

import java.util.List;

/**
 * A decision with how it came about: every rule in file order, whether it matched and why, the device's
 * interrupt-isolation verdict, and whether the binding lists let the device be bound at all.
 *
 * @param interrupts null when the device does not exist
 * @param binding    null when the device does not exist
 */
public record Explanation(Principal principal, PciAddress address, Decision decision, List<RuleTrace> chain,
                          InterruptSafety interrupts, BindingPolicy.Verdict binding) {

    public Explanation {
        chain = List.copyOf(chain);
    }

    /**
     * One rule's part.
     *
     * @param outcome DECIDED (this rule made the decision), OVERRIDDEN (matched but a deny rule or an earlier
     *                allow rule decided), NOT_MATCHED
     */
    public record RuleTrace(String rule, Rule.Action action, int line, boolean deviceMatched, boolean principalMatched,
                            Outcome outcome, String why) {
    }

    public enum Outcome { DECIDED, OVERRIDDEN, NOT_MATCHED }
}
