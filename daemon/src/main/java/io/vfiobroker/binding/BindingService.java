package io.vfiobroker.binding;

import io.vfiobroker.binding.SysfsSteps.StepFailure;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.protect.ProtectionScanner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.IntPredicate;
import java.util.function.Supplier;

/**
 * Binds whole IOMMU groups to vfio-pci and restores their original drivers, the way the kernel wants it done:
 * driver_override, unbind, drivers_probe, then read the driver link back. Every member's original state is
 * journaled before it is touched; a failure rolls the group back; a crash is reconciled on the next start.
 * Changes serialize per IOMMU group, so a group whose unbind waits in the kernel holds up no other group.
 */
public final class BindingService {

    public static final String VFIO_PCI = "vfio-pci";
    private static final Logger log = LoggerFactory.getLogger(BindingService.class);

    private final SysfsHost host;
    private final InventoryScanner scanner;
    private final Journal journal;
    private final VfioDriver vfio;
    private final GroupLocks groups = new GroupLocks();
    private final BindingPlanner planner;
    private final SysfsSteps steps;
    private final ChangeFeed feed = new ChangeFeed();

    public BindingService(SysfsHost host, InventoryScanner scanner, Journal journal, Supplier<BindingRules> rules) {
        this(host, scanner, journal, rules, new ProtectionScanner(host));
    }

    /** {@code protection} reads the host's mounts and routes where the deployment put them (vfio-broker.host-proc). */
    public BindingService(SysfsHost host, InventoryScanner scanner, Journal journal, Supplier<BindingRules> rules,
                          ProtectionScanner protection) {
        this.host = host;
        this.scanner = scanner;
        this.journal = journal;
        this.vfio = new VfioDriver(host);
        this.planner = new BindingPlanner(host, scanner, protection, journal, rules, vfio);
        this.steps = new SysfsSteps(host, scanner);
    }

    /** Leases tell binding which groups are in use, so a release cannot pull a device from under a client. */
    public void setGroupInUse(IntPredicate inUse) {
        planner.setGroupInUse(inUse);
    }

    /** Names what uses a group (its leases), so a refused release says which lease to end; null when unknown. */
    public void setGroupUser(java.util.function.IntFunction<String> user) {
        planner.setGroupUser(user);
    }

    public Journal journal() {
        return journal;
    }

    // ---- planning -------------------------------------------------------------------------------------------

    /** Group of a device, refusing devices the kernel put in no group. */
    public int groupOf(PciAddress device) {
        return planner.groupOf(device);
    }

    /** Not bound with its group: a PCI bridge on its port driver. Policy need not grant it either: no VFIO fd opens it. */
    public static boolean leaveAlone(Device d) {
        // A PCI bridge on its port driver does not spoil viability, and unbinding it would cut off what is behind it.
        return d.pciClass().isPciBridge() && (d.driver() == null || d.driver().equals("pcieport"));
    }

    public BindingPlan planBind(PciAddress device) {
        return planner.planBindGroup(planner.groupOf(device), device);
    }

    public BindingPlan planBindGroup(int group, PciAddress requested) {
        return planner.planBindGroup(group, requested);
    }

    public BindingPlan planRelease(int group, boolean restore) {
        return planner.planRelease(group, restore);
    }

    // ---- doing ----------------------------------------------------------------------------------------------

    public BindingPlan bind(PciAddress device, boolean dryRun) {
        return dryRun ? planBind(device) : bindReported(() -> groupOf(device), device);
    }

    /** Binds {@code device}'s {@code group}, which the caller has read already: its members are read again under the lock. */
    public BindingPlan bind(int group, PciAddress device) {
        return bindReported(() -> group, device);
    }

    /**
     * Binds {@code device}'s group from the members the caller read (Acquire decided on them): read again under the
     * group's lock only when a binding change ran since that read or the group's member list moved.
     */
    public BindingPlan bind(GroupRead read, PciAddress device) {
        int group = read.group();
        return reported("bind", group, device, () -> changing(group, () -> {
            boolean current = read.changesBefore() == feed.count() && planner.sameMembers(read);
            return execBind(current ? planner.planBindGroup(read.members(), group, device) : planBindGroup(group, device));
        }));
    }

    private BindingPlan bindReported(java.util.function.IntSupplier groupOf, PciAddress device) {
        return reported("bind", -1, device, () -> {
            int group = groupOf.getAsInt();
            return changing(group, () -> execBind(planBindGroup(group, device)));
        });
    }

    public BindingPlan bindGroup(int group, boolean dryRun) {
        return dryRun ? planBindGroup(group, null) : reported("bind", group, null, () -> changing(group, () -> execBind(planBindGroup(group, null))));
    }

    /** A change of one group: under its own lock and the cross-process lock, after settling what was left over. */
    private BindingPlan changing(int group, Supplier<BindingPlan> work) {
        return groups.with(group, () -> journal.exclusive(() -> {
            if (!reconcileLocked().isEmpty()) feed.bump();
            return work.get();
        }));
    }

    private BindingPlan execBind(BindingPlan plan) {
        if (plan.refused()) {
            throw new BindingException("not binding IOMMU group " + plan.group() + ": " + String.join("; ", plan.refusals()), true);
        }
        if (plan.steps().isEmpty()) return plan;
        vfio.ensureLoaded();
        String txn = UUID.randomUUID().toString();
        journal.append(txn, Journal.Op.BIND, Journal.Phase.BEGIN, plan.group(), plan.requested(), null, null, null);
        try {
            return execBind(plan, txn);
        } finally {
            journal.detach(txn);
        }
    }

    private BindingPlan execBind(BindingPlan plan, String txn) {
        List<Journal.Owned> touched = new ArrayList<>();
        for (BindingPlan.Member m : plan.members()) {
            List<SysfsStep> mine = plan.steps().stream().filter(s -> s.device().equals(m.address())).toList();
            if (mine.isEmpty()) continue;
            Journal.Owned before = new Journal.Owned(m.address(), plan.group(), m.driver(), m.driverOverride(), null);
            journal.append(txn, Journal.Op.BIND, Journal.Phase.INTENT, plan.group(), m.address(), m.driver(), m.driverOverride(), null);
            touched.add(before);
            try {
                for (SysfsStep s : mine) steps.write(s);
                String now = host.linkName("sys/bus/pci/devices/" + m.address() + "/driver").orElse(null);
                if (!VFIO_PCI.equals(now)) {
                    throw new StepFailure(m.address() + " did not bind to vfio-pci after drivers_probe (driver is "
                            + (now == null ? "none" : now) + ")");
                }
            } catch (StepFailure f) {
                String restored = rollback(txn, plan.group(), touched);
                String msg = "binding IOMMU group " + plan.group() + " failed at " + m.address() + ": " + f.getMessage() + "; " + restored;
                log.warn("event=bind-failed group={} device={} error=\"{}\"", plan.group(), m.address(), msg);
                throw new BindingException(msg, false);
            }
            journal.append(txn, Journal.Op.BIND, Journal.Phase.DONE, plan.group(), m.address(), m.driver(), m.driverOverride(), null);
            log.info("event=device-bound device={} group={} from={}", m.address(), plan.group(), m.driver());
        }
        journal.append(txn, Journal.Op.BIND, Journal.Phase.COMMIT, plan.group(), null, null, null, null);
        return plan;
    }

    /** Restores members touched by a failed bind, newest first; says what was restored and what could not be. */
    private String rollback(String txn, int group, List<Journal.Owned> touched) {
        List<String> ok = new ArrayList<>();
        List<String> bad = new ArrayList<>();
        for (int i = touched.size() - 1; i >= 0; i--) {
            Journal.Owned o = touched.get(i);
            try {
                steps.restore(o);
                ok.add(o.device() + " (" + (o.originalDriver() == null ? "no driver" : o.originalDriver()) + ")");
            } catch (StepFailure | RuntimeException e) {
                bad.add(o.device() + ": " + e.getMessage());
            }
        }
        journal.append(txn, Journal.Op.BIND, Journal.Phase.ROLLBACK, group, null, null, null,
                "restored " + ok + (bad.isEmpty() ? "" : "; failed " + bad));
        String s = ok.isEmpty() ? "nothing needed restoring" : "restored " + String.join(", ", ok);
        return bad.isEmpty() ? s : s + "; COULD NOT RESTORE " + String.join("; ", bad);
    }

    public BindingPlan release(int group, boolean restore, boolean dryRun) {
        return dryRun ? planRelease(group, restore) : reported("release", group, null,
                () -> changing(group, () -> execRelease(planRelease(group, restore), restore)));
    }

    private BindingPlan execRelease(BindingPlan plan, boolean restore) {
        if (plan.refused()) throw new BindingException("not releasing: " + String.join("; ", plan.refusals()), true);
        String txn = UUID.randomUUID().toString();
        journal.append(txn, Journal.Op.RELEASE, Journal.Phase.BEGIN, plan.group(), null, null, null, null);
        try {
            return execRelease(plan, restore, txn);
        } finally {
            journal.detach(txn);
        }
    }

    private BindingPlan execRelease(BindingPlan plan, boolean restore, String txn) {
        List<String> failed = new ArrayList<>();
        Map<PciAddress, Journal.Owned> owned = planner.ownedIn(plan.group());
        for (Journal.Owned o : owned.values()) {
            journal.append(txn, Journal.Op.RELEASE, Journal.Phase.INTENT, plan.group(), o.device(), o.originalDriver(), o.originalOverride(), null);
            try {
                if (restore) {
                    steps.restore(o);
                } else {
                    steps.write(new SysfsStep(o.device(), "clear driver_override", "sys/bus/pci/devices/" + o.device() + "/driver_override", "\n"));
                }
                journal.append(txn, Journal.Op.RELEASE, restore ? Journal.Phase.DONE : Journal.Phase.INTENT, plan.group(), o.device(),
                        o.originalDriver(), o.originalOverride(), restore ? null : "kept bound");
                log.info("event=device-released device={} group={} to={}", o.device(), plan.group(),
                        restore ? o.originalDriver() : "vfio-pci (kept)");
            } catch (StepFailure | RuntimeException e) {
                failed.add(o.device() + ": " + e.getMessage());
            }
        }
        journal.append(txn, Journal.Op.RELEASE, Journal.Phase.COMMIT, plan.group(), null, null, null, null);
        // A clean release leaves no transaction of its own open: the journal shrinks to what is still owned (and
        // other groups' open transactions), so binds and releases don't grow it forever between crashes.
        if (failed.isEmpty()) journal.compact();
        if (!failed.isEmpty()) {
            throw new BindingException("releasing IOMMU group " + plan.group() + " left devices on vfio-pci (still recorded, retried on "
                    + "restart): " + String.join("; ", failed), false);
        }
        return plan;
    }

    // ---- listeners (events, metrics) --------------------------------------------------------------------------

    /** A bind or release that was carried out (or failed): {@code plan} is null when it failed before planning. */
    public record Change(String operation, int group, PciAddress requested, BindingPlan plan, RuntimeException error) {
    }

    /** Counts binds and releases this service ran: a caller that read the host before can tell whether to read again. */
    public long changes() {
        return feed.count();
    }

    public void addListener(java.util.function.Consumer<Change> l) {
        feed.add(l);
    }

    private BindingPlan reported(String op, int group, PciAddress requested, Supplier<BindingPlan> work) {
        return feed.reported(op, group, requested, work);
    }

    /** Whether vfio-broker bound a device of {@code group} (and has not released it). */
    public boolean owns(int group) {
        return !planner.ownedIn(group).isEmpty();
    }

    /** Devices bound by vfio-broker with their original drivers. */
    public Map<PciAddress, Journal.Owned> status() {
        return journal.owned();
    }

    // ---- crash recovery -------------------------------------------------------------------------------------

    /** Finishes or undoes what a crashed process left half done, then compacts the journal. */
    public List<String> reconcile() {
        return journal.exclusive(this::reconcileLocked);
    }

    /**
     * Settles each orphaned transaction and re-binds each driverless device of ours, every one under its group's lock
     * taken only if free: a group another thread is changing is in flight (its devices may be driverless for a moment),
     * not left over, so it is neither touched nor waited for.
     */
    private List<String> reconcileLocked() {
        List<String> report = new ArrayList<>();
        boolean[] settled = {false};
        for (var e : journal.orphans().entrySet()) {
            groups.ifFree(e.getValue().get(0).group(), () -> settled[0] |= settle(e.getKey(), report));
        }
        for (Journal.Owned o : journal.owned().values()) groups.ifFree(o.group(), () -> rebindIfDriverless(o.device(), report));
        if (settled[0]) journal.compact();
        for (String r : report) log.warn("event=reconciled detail=\"{}\"", r);
        return report;
    }

    /** Undoes an orphaned bind or finishes an orphaned release; the caller holds its group. False if it was settled meanwhile. */
    private boolean settle(String txn, List<String> report) {
        List<Journal.Entry> entries = journal.orphans().get(txn);
        if (entries == null) return false;
        Journal.Entry begin = entries.get(0);
        if (begin.op() == Journal.Op.BIND) {
            // An interrupted bind is undone: the caller never got its answer, so nobody relies on it.
            List<Journal.Owned> touched = entries.stream().filter(x -> x.phase() == Journal.Phase.INTENT)
                    .map(x -> new Journal.Owned(PciAddress.parse(x.device()), x.group(), x.originalDriver(), x.originalOverride(), x.time()))
                    .toList();
            report.add("interrupted bind of group " + begin.group() + " undone: " + rollback(txn, begin.group(), new ArrayList<>(touched)));
            return true;
        }
        // An interrupted release is finished: its caller had asked for the devices back.
        List<String> done = new ArrayList<>();
        for (Journal.Owned o : planner.ownedIn(begin.group()).values()) {
            try {
                steps.restore(o);
                journal.append(txn, Journal.Op.RELEASE, Journal.Phase.DONE, o.group(), o.device(), o.originalDriver(), o.originalOverride(), "reconciled");
                done.add(o.device().toString());
            } catch (StepFailure | RuntimeException ex) {
                done.add(o.device() + " FAILED: " + ex.getMessage());
            }
        }
        journal.append(txn, Journal.Op.RELEASE, Journal.Phase.COMMIT, begin.group(), null, null, null, "reconciled");
        report.add("interrupted release of group " + begin.group() + " finished: " + done);
        return true;
    }

    /** A device of ours that lost its driver (unbound by hand, or mid-step at a crash) goes back to vfio-pci. */
    private void rebindIfDriverless(PciAddress device, List<String> report) {
        // Read again under the group: a release that ran meanwhile may have returned it, driverless as it was found.
        if (!journal.owned().containsKey(device)) return;
        Optional<Device> d = scanner.device(device);
        if (d.isEmpty() || d.get().driver() != null) return;
        try {
            steps.write(new SysfsStep(device, "set driver_override", "sys/bus/pci/devices/" + device + "/driver_override", VFIO_PCI));
            steps.write(new SysfsStep(device, "probe", "sys/bus/pci/drivers_probe", device.toString()));
            report.add(device + " had no driver; re-bound to vfio-pci");
        } catch (StepFailure ex) {
            report.add(device + " has no driver and could not be re-bound: " + ex.getMessage());
        }
    }
}
