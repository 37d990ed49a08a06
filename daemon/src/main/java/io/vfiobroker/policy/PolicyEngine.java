package io.vfiobroker.policy;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.InterruptRemapping;
import io.vfiobroker.domain.KernelSupport;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.Accounts;
import io.vfiobroker.interrupts.InterruptChips;
import io.vfiobroker.interrupts.InterruptSafety;
import io.vfiobroker.interrupts.InterruptSafetyCheck;
import io.vfiobroker.interrupts.UnsafeInterruptSwitch;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Evaluates a policy for one principal and one device. Pure: everything it reads is passed in, so the same
 * inputs always give the same answer.
 *
 * <p>Precedence: a matching deny rule refuses, wherever it stands in the file; otherwise the first matching
 * allow rule in file order grants with its limits; otherwise default deny. A grant then needs an IOMMU and
 * either remapped interrupts or the rule's allowUnsafeInterrupts together with the kernel's own switch.
 */
public final class PolicyEngine {

    private PolicyEngine() {
    }

    public static Explanation evaluate(Policy policy, Principal who, PciAddress address, HostInventory inventory,
                                       InterruptChips chips, Accounts accounts) {
        Optional<Device> found = inventory.device(address);
        if (found.isEmpty()) {
            Decision d = new Decision.Refused("no PCI device " + address + " on this host", Decision.NO_SUCH_DEVICE);
            return new Explanation(who, address, d, List.of(), null, null);
        }
        Device device = found.get();
        Principal named = withName(who, accounts, policy);

        Rule deny = null;
        Rule allow = null;
        List<boolean[]> matches = new ArrayList<>();
        List<String> whys = new ArrayList<>();
        for (Rule r : policy.rules()) {
            List<String> why = new ArrayList<>();
            boolean dm = r.devices().matches(device, policy.labels(), why);
            // Principals are only worth checking, and explaining, when the device matched.
            boolean pm = dm && r.principals().matches(named, accounts, why);
            matches.add(new boolean[]{dm, pm});
            whys.add(String.join("; ", why));
            if (dm && pm) {
                if (r.isDeny() && deny == null) deny = r;
                if (!r.isDeny() && allow == null) allow = r;
            }
        }
        Rule decisive = deny != null ? deny : allow;
        List<Explanation.RuleTrace> chain = new ArrayList<>();
        for (int i = 0; i < policy.rules().size(); i++) {
            Rule r = policy.rules().get(i);
            boolean[] m = matches.get(i);
            Explanation.Outcome o = !(m[0] && m[1]) ? Explanation.Outcome.NOT_MATCHED
                    : r == decisive ? Explanation.Outcome.DECIDED : Explanation.Outcome.OVERRIDDEN;
            chain.add(new Explanation.RuleTrace(r.name(), r.action(), r.line(), m[0], m[1], o, whys.get(i)));
        }

        InterruptSafety irq = InterruptSafetyCheck.assess(inventory, device, chips);
        BindingPolicy.Verdict binding = policy.binding().check(device, policy.labels());
        String subject = address + " for " + named.describe();
        Decision decision;
        if (deny != null) {
            decision = new Decision.Refused(subject + " is refused by deny rule '" + deny.name() + "' (line " + deny.line() + ")", deny.name());
        } else if (allow == null) {
            decision = new Decision.Refused("no rule grants " + subject + ", so " + Decision.DEFAULT_DENY + " refuses it", Decision.DEFAULT_DENY);
        } else {
            decision = grant(allow, subject, irq, inventory.kernel());
        }
        return new Explanation(named, address, decision, chain, irq, binding);
    }

    private static Decision grant(Rule rule, String subject, InterruptSafety irq, KernelSupport kernel) {
        String by = "rule '" + rule.name() + "'";
        Limits limits = rule.limits();
        if (!irq.iommuPresent()) {
            return new Decision.Refused(irq.summary() + "; VFIO cannot isolate a device without an IOMMU, so " + by
                    + " cannot grant it", rule.name());
        }
        if (irq.safe()) {
            return new Decision.Allowed(rule.name(), limits, false, subject + " is granted by " + by + "; " + irq.summary());
        }
        if (!limits.allowUnsafeInterrupts()) {
            return new Decision.Refused(irq.summary() + "; " + by + " does not set allowUnsafeInterrupts", rule.name());
        }
        // The policy accepts the risk; now make sure the kernel will too, instead of a bare EPERM later.
        List<UnsafeInterruptSwitch> switches = switches(limits.backends(), kernel);
        List<UnsafeInterruptSwitch> open = switches.stream().filter(s -> s.allows(kernel)).toList();
        if (open.isEmpty()) {
            String refusals = String.join("; ", switches.stream().map(s -> s.refusal(kernel)).toList());
            if (irq.verdict() == InterruptRemapping.UNSUPPORTED) {
                return new Decision.Refused(irq.summary() + "; " + by + " allows unsafe interrupts, but the kernel will refuse: "
                        + refusals, rule.name());
            }
            // UNKNOWN: the kernel may know better than sysfs tells us; grant, marked, with the warning.
            return new Decision.Allowed(rule.name(), limits, true, subject + " is granted by " + by + " with unsafe interrupts; "
                    + irq.summary() + "; the kernel may still refuse: " + refusals);
        }
        Limits granted = limits;
        if (limits.backends().size() > 1 && open.size() == 1) {
            granted = limits.narrowedTo(open.get(0).backend());
        }
        String narrowed = !granted.equals(limits)
                ? " (backend " + granted.backendName() + " only: " + open.get(0).module() + " is the one that allows it)" : "";
        return new Decision.Allowed(rule.name(), granted, true, subject + " is granted by " + by + " with UNSAFE interrupts"
                + narrowed + "; " + irq.summary());
    }

    private static List<UnsafeInterruptSwitch> switches(Set<Backend> backends, KernelSupport k) {
        // Of several allowed, a kernel without iommufd leaves only type1 to talk about.
        boolean withIommufd = backends.size() == 1 || k.iommufd() || k.iommufdNode();
        return backends.stream().filter(b -> withIommufd || b != Backend.IOMMUFD).map(UnsafeInterruptSwitch::of).toList();
    }

    /** Fills in the user name from /etc/passwd when the caller did not know it, so decisions read well. */
    private static Principal withName(Principal p, Accounts accounts, Policy policy) {
        if (p.userName() != null) return p;
        String name = accounts.userName(p.uid()).orElse(null);
        return name == null ? p : new Principal(p.uid(), p.gid(), p.groups(), name, p.kubernetesResource());
    }
}
