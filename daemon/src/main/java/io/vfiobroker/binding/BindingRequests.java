package io.vfiobroker.binding;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.domain.PciAddress;

import java.util.Collection;
import java.util.List;

/**
 * Binding changes as the daemon's adapters ask for them (gRPC Bindings, REST /api/v1/bindings): one target check,
 * the binding service (policy binding rules, protection, the lease in-use check, journal and lock), and an
 * audit record naming who asked. Authorization stays with the adapters.
 */
public final class BindingRequests {

    private final BindingService binding;
    private final AuditLog audit;

    /** @param audit where changes are recorded with who asked for them; null records nothing */
    public BindingRequests(BindingService binding, AuditLog audit) {
        this.binding = binding;
        this.audit = audit;
    }

    public BindingService service() {
        return binding;
    }

    /** Binds the group of {@code address}, or {@code group}: exactly one of them. */
    public BindingPlan bind(String address, Integer group, boolean dryRun, String by) {
        exactlyOne(address, group);
        if (group != null) checkGroup(group);
        try {
            BindingPlan plan = address != null ? binding.bind(PciAddress.parse(address), dryRun) : binding.bindGroup(group, dryRun);
            if (!dryRun) record("binding-bound", plan, by, null);
            return plan;
        } catch (BindingException e) {
            if (!dryRun) record("binding-bind-failed", null, by, e, "device", address, "group", group);
            throw e;
        }
    }

    /** Releases the group of {@code address}, or {@code group}; {@code restore} false leaves the devices on vfio-pci. */
    public BindingPlan release(String address, Integer group, boolean restore, boolean dryRun, String by) {
        exactlyOne(address, group);
        int g = group != null ? checkGroup(group) : binding.groupOf(PciAddress.parse(address));
        try {
            BindingPlan plan = binding.release(g, restore, dryRun);
            if (!dryRun) record("binding-released", plan, by, null);
            return plan;
        } catch (BindingException e) {
            if (!dryRun) record("binding-release-failed", null, by, e, "group", g);
            throw e;
        }
    }

    /** Devices vfio-broker bound, with their original drivers. */
    public Collection<Journal.Owned> status() {
        return binding.status().values();
    }

    /** Finishes or undoes what a crashed run left half done. */
    public List<String> reconcile(String by) {
        List<String> done = binding.reconcile();
        if (!done.isEmpty()) record("binding-reconciled", null, by, null, "detail", done);
        return done;
    }

    /** An IOMMU group number as a path or query gives it. */
    public static int parseGroup(String text) {
        try {
            int n = Integer.parseInt(text);
            if (n >= 0) return n;
        } catch (NumberFormatException ignored) {
            // fall through to the error naming the input
        }
        throw new IllegalArgumentException("invalid IOMMU group '" + text + "': expected a non-negative number");
    }

    private static void exactlyOne(String address, Integer group) {
        if ((address == null) == (group == null)) throw new IllegalArgumentException("give exactly one of 'address' or 'group'");
    }

    private static int checkGroup(int group) {
        if (group < 0) throw new IllegalArgumentException("invalid IOMMU group " + Integer.toUnsignedString(group) + ": out of range");
        return group;
    }

    private void record(String event, BindingPlan plan, String by, RuntimeException error, Object... more) {
        if (audit == null) return;
        List<Object> kv = new java.util.ArrayList<>(List.of("by", by));
        if (plan != null) {
            kv.addAll(List.of("operation", plan.operation(), "group", plan.group(),
                    "devices", plan.members().stream().map(m -> m.address() + " " + (m.driver() == null ? "-" : m.driver()) + ": " + m.action()).toList()));
        }
        for (int i = 0; i + 1 < more.length; i += 2) {
            if (more[i + 1] != null) {
                kv.add(more[i]);
                kv.add(more[i + 1]);
            }
        }
        if (error != null) kv.addAll(List.of("error", error.getMessage()));
        audit.record(event, kv.toArray());
    }
}
