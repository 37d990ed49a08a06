package io.vfiobroker.policy;

import io.vfiobroker.interrupts.InterruptSafety;

import java.util.List;

/** An {@link Explanation} flattened for JSON (REST and {@code policy explain --json}), with lower-case wire names. */
public record ExplanationView(String address, PrincipalView principal, DecisionView decision, InterruptsView interrupts,
                              BindingPolicy.Verdict binding, List<RuleView> chain) {

    public record PrincipalView(int uid, int gid, List<Integer> groups, String userName, String kubernetesResource) {
    }

    public record DecisionView(boolean allowed, String rule, String reason, Boolean unsafeInterrupts, LimitsView limits) {
    }

    public record LimitsView(int maxDevices, long memlockBytesPerLease, long memlockBytesPerPrincipal, String backend,
                             boolean keepBound, boolean allowUnsafeInterrupts) {
        static LimitsView of(Limits l) {
            return l == null ? null : new LimitsView(l.maxDevices(), l.memlockBytesPerLease(), l.memlockBytesPerPrincipal(),
                    l.backendName(), l.keepBound(), l.allowUnsafeInterrupts());
        }
    }

    public record InterruptsView(String verdict, String iommuUnit, boolean iommuPresent, String summary, List<String> evidence) {
    }

    public record RuleView(String rule, String action, int line, boolean deviceMatched, boolean principalMatched,
                           String outcome, String why) {
    }

    public static ExplanationView of(Explanation e) {
        Principal p = e.principal();
        Decision d = e.decision();
        DecisionView dv = d instanceof Decision.Allowed a
                ? new DecisionView(true, a.rule(), a.reason(), a.unsafeInterrupts(), LimitsView.of(a.limits()))
                : new DecisionView(false, d.rule(), d.reason(), null, null);
        InterruptSafety s = e.interrupts();
        InterruptsView iv = s == null ? null
                : new InterruptsView(s.verdict().wireName(), s.iommuUnit(), s.iommuPresent(), s.summary(), s.evidence());
        List<RuleView> chain = e.chain().stream().map(r -> new RuleView(r.rule(), r.action().name().toLowerCase(), r.line(),
                r.deviceMatched(), r.principalMatched(), r.outcome().name().toLowerCase().replace('_', '-'), r.why())).toList();
        return new ExplanationView(e.address().toString(),
                new PrincipalView(p.uid(), p.gid(), p.groups(), p.userName(), p.kubernetesResource()), dv, iv, e.binding(), chain);
    }

    /** The same, as lines for a terminal: decision first, then the rule chain, then the evidence. */
    public String text() {
        StringBuilder b = new StringBuilder();
        b.append(decision.allowed() ? "ALLOWED" : "REFUSED").append(" (rule ").append(decision.rule()).append(")\n");
        b.append("  ").append(decision.reason()).append('\n');
        if (decision.limits() != null) {
            LimitsView l = decision.limits();
            b.append("  limits: maxDevices=").append(l.maxDevices() == Limits.UNLIMITED ? "unlimited" : l.maxDevices())
                    .append(" memlockPerLease=").append(bytes(l.memlockBytesPerLease()))
                    .append(" memlockPerPrincipal=").append(bytes(l.memlockBytesPerPrincipal()))
                    .append(" backend=").append(l.backend()).append(" keepBound=").append(l.keepBound())
                    .append(" unsafeInterrupts=").append(decision.unsafeInterrupts()).append('\n');
        }
        if (!chain.isEmpty()) b.append("rules:\n");
        for (RuleView r : chain) {
            b.append(String.format("  %-11s %-5s %-24s line %-4d %s%n", r.outcome(), r.action(), r.rule(), r.line(), r.why()));
        }
        if (interrupts != null) {
            b.append("interrupts: ").append(interrupts.verdict()).append('\n');
            for (String ev : interrupts.evidence()) b.append("  ").append(ev).append('\n');
        }
        if (binding != null) b.append("binding: ").append(binding.reason()).append('\n');
        return b.toString();
    }

    static String bytes(long n) {
        if (n == Limits.UNLIMITED) return "unlimited";
        if (n != 0 && n % (1L << 30) == 0) return (n >> 30) + "GiB";
        if (n != 0 && n % (1L << 20) == 0) return (n >> 20) + "MiB";
        return Long.toString(n);
    }
}
