package io.vfiobroker.binding;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.protect.ProtectedDevice;
import io.vfiobroker.protect.ProtectionScanner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.IntPredicate;
import java.util.function.Supplier;

/** Works out what binding or releasing a group would write, and what refuses it; writes nothing. */
final class BindingPlanner {

    private final SysfsHost host;
    private final InventoryScanner scanner;
    private final ProtectionScanner protection;
    private final Journal journal;
    private final Supplier<BindingRules> rules;
    private final VfioDriver vfio;
    private volatile IntPredicate groupInUse = g -> false;
    private volatile IntFunction<String> groupUser = g -> null;

    BindingPlanner(SysfsHost host, InventoryScanner scanner, ProtectionScanner protection, Journal journal, Supplier<BindingRules> rules,
                   VfioDriver vfio) {
        this.host = host;
        this.scanner = scanner;
        this.protection = protection;
        this.journal = journal;
        this.rules = rules;
        this.vfio = vfio;
    }

    void setGroupInUse(IntPredicate inUse) {
        this.groupInUse = inUse;
    }

    void setGroupUser(IntFunction<String> user) {
        this.groupUser = user;
    }

    /** Group of a device, refusing devices the kernel put in no group. */
    int groupOf(PciAddress device) {
        Device d = scanner.device(device).orElseThrow(() -> new BindingException("no PCI device " + device + " on this host", true));
        if (d.iommuGroup() == null) {
            throw new BindingException(device + " is in no IOMMU group: the kernel has no IOMMU enabled for it "
                    + "(intel_iommu=on / amd_iommu=on and a DMAR/IVRS table are needed); VFIO cannot isolate it", true);
        }
        return d.iommuGroup();
    }

    private List<Device> members(int group) {
        if (group < 0) throw new BindingException("invalid IOMMU group " + group, true);
        List<String> names = host.list("sys/kernel/iommu_groups/" + group + "/devices");
        if (names.isEmpty()) throw new BindingException("no IOMMU group " + group + " on this host", true);
        List<Device> out = new ArrayList<>();
        for (String n : names.stream().filter(PciAddress::isValid).sorted().toList()) {
            scanner.device(PciAddress.parse(n)).ifPresent(out::add);
        }
        return out;
    }

    BindingPlan planBindGroup(int group, PciAddress requested) {
        return planBindGroup(members(group), group, requested);
    }

    /** Whether the group still lists exactly the members read: one directory listing, no device read. */
    boolean sameMembers(GroupRead read) {
        List<String> now = host.list("sys/kernel/iommu_groups/" + read.group() + "/devices").stream().filter(PciAddress::isValid).sorted().toList();
        return now.equals(read.members().stream().map(d -> d.address().toString()).sorted().toList());
    }

    /** Plans the bind of {@code group} from {@code members} as read, sorted by address. */
    BindingPlan planBindGroup(List<Device> members, int group, PciAddress requested) {
        members = members.stream().sorted(java.util.Comparator.comparing(d -> d.address().toString())).toList();
        BindingRules r = rules.get();
        List<String> refusals = new ArrayList<>();
        // The caller may pass a group it read earlier (Acquire): a device that left it since is not bound through it.
        if (requested != null && members.stream().noneMatch(d -> d.address().equals(requested))) {
            refusals.add(requested + " is not in IOMMU group " + group + " (any more): nothing was bound");
        }
        Map<PciAddress, List<ProtectedDevice>> prot = protection.scan(members);
        var groupRecord = InventoryScanner.group(group, members.stream().map(Device::address).toList(), Map.of());
        refusals.addAll(ProtectionScanner.refusals(groupRecord, requested != null ? requested : members.get(0).address(), prot,
                r.protectedOverrides()));
        List<BindingPlan.Member> planned = new ArrayList<>();
        List<SysfsStep> steps = new ArrayList<>();
        for (Device d : members) {
            if (BindingService.leaveAlone(d)) {
                planned.add(new BindingPlan.Member(d.address(), d.driver(), d.driverOverride(), "left alone (PCI bridge)"));
                continue;
            }
            r.refusal(d).ifPresent(refusals::add);
            if (d.boundTo(BindingService.VFIO_PCI)) {
                planned.add(new BindingPlan.Member(d.address(), d.driver(), d.driverOverride(), "already on vfio-pci"));
                continue;
            }
            planned.add(new BindingPlan.Member(d.address(), d.driver(), d.driverOverride(),
                    d.driver() == null ? "bind to vfio-pci" : "move from " + d.driver() + " to vfio-pci"));
            steps.addAll(bindSteps(d));
        }
        return new BindingPlan("bind", group, requested, planned, steps, refusals, vfio.describe());
    }

    private static List<SysfsStep> bindSteps(Device d) {
        String dir = "sys/bus/pci/devices/" + d.address();
        List<SysfsStep> s = new ArrayList<>();
        s.add(new SysfsStep(d.address(), "set driver_override", dir + "/driver_override", BindingService.VFIO_PCI));
        if (d.driver() != null) s.add(new SysfsStep(d.address(), "unbind from " + d.driver(), dir + "/driver/unbind", d.address().toString()));
        s.add(new SysfsStep(d.address(), "probe", "sys/bus/pci/drivers_probe", d.address().toString()));
        return s;
    }

    static List<SysfsStep> restoreSteps(Device now, Journal.Owned o) {
        PciAddress a = now.address();
        String dir = "sys/bus/pci/devices/" + a;
        List<SysfsStep> s = new ArrayList<>();
        s.add(new SysfsStep(a, o.originalOverride() == null ? "clear driver_override" : "restore driver_override",
                dir + "/driver_override", o.originalOverride() == null ? "\n" : o.originalOverride()));
        if (now.boundTo(BindingService.VFIO_PCI)) s.add(new SysfsStep(a, "unbind from vfio-pci", "sys/bus/pci/drivers/vfio-pci/unbind", a.toString()));
        if (o.originalDriver() != null && !now.boundTo(o.originalDriver())) {
            s.add(new SysfsStep(a, "probe (expect " + o.originalDriver() + ")", "sys/bus/pci/drivers_probe", a.toString()));
        }
        return s;
    }

    BindingPlan planRelease(int group, boolean restore) {
        Map<PciAddress, Journal.Owned> owned = ownedIn(group);
        List<String> refusals = new ArrayList<>();
        if (owned.isEmpty()) {
            refusals.add("IOMMU group " + group + " has no device bound by vfio-broker ('vfio-broker status' lists those that are)");
        }
        if (groupInUse.test(group)) {
            String user = groupUser.apply(group);
            refusals.add("IOMMU group " + group + " is in use by " + (user == null ? "a lease" : user) + "; end the lease first");
        }
        List<BindingPlan.Member> planned = new ArrayList<>();
        List<SysfsStep> steps = new ArrayList<>();
        for (Journal.Owned o : owned.values()) {
            Device now = scanner.device(o.device()).orElse(null);
            if (now == null) {
                planned.add(new BindingPlan.Member(o.device(), null, null, "gone from the host; forgotten"));
                continue;
            }
            if (restore) {
                planned.add(new BindingPlan.Member(o.device(), now.driver(), now.driverOverride(),
                        o.originalDriver() == null ? "unbind, leave driverless as found" : "restore to " + o.originalDriver()));
                steps.addAll(restoreSteps(now, o));
            } else {
                planned.add(new BindingPlan.Member(o.device(), now.driver(), now.driverOverride(), "keep on vfio-pci (keepBound)"));
                steps.add(new SysfsStep(o.device(), "clear driver_override", "sys/bus/pci/devices/" + o.device() + "/driver_override", "\n"));
            }
        }
        return new BindingPlan(restore ? "release" : "release (keep bound)", group, null, planned, steps, refusals, vfio.describe());
    }

    Map<PciAddress, Journal.Owned> ownedIn(int group) {
        Map<PciAddress, Journal.Owned> out = new LinkedHashMap<>();
        journal.owned().forEach((a, o) -> {
            if (o.group() == group) out.put(a, o);
        });
        return out;
    }
}
