package io.vfiobroker.lease;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.GroupRead;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.policy.Decision;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.policy.Principal;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Decides an Acquire before anything is touched: validates the request, reads each device and its IOMMU group once,
 * asks policy for every device the lease will reach, and chooses the backend and the memlock limit. A legacy lease
 * hands over the group fd, which opens any member of the group, so policy must grant every member (each counted
 * in maxDevices); an iommufd lease hands over only the requested devices' cdevs.
 */
record GrantDecider(InventoryScanner scanner, PolicyService policy, DomainOpener domains, AuditLog audit, LongSupplier bindingChanges) {

    static final int MAX_DEVICES_PER_ACQUIRE = 16;

    /** What Acquire decided: the devices asked for, their group members the grant covers, and the limits. */
    record Grant(Caller caller, Principal principal, AllocationGate.Allocation allocation, List<Device> devices, List<Device> members,
                 List<Decision.Allowed> decisions, Set<Integer> readyGroups, Map<Integer, GroupRead> groupReads, Backend backend,
                 long memlockLimit, long memlockPerPrincipal, int maxDevices, boolean unsafeInterrupts, boolean keepBound) {

        String rule() {
            return decisions.get(0).rule();
        }

        Set<Integer> groups() {
            Set<Integer> g = new LinkedHashSet<>();
            for (Device d : devices) g.add(d.iommuGroup());
            return g;
        }

        List<Lease.Device> leased() {
            return devices.stream().map(GrantDecider::leaseDevice).toList();
        }

        List<Lease.Device> leasedMembers() {
            return members.stream().map(GrantDecider::leaseDevice).toList();
        }
    }

    static Lease.Device leaseDevice(Device d) {
        return new Lease.Device(d.address(), d.iommuGroup(), d.vendorDevice());
    }

    Grant decide(Caller caller, Principal who, AllocationGate.Allocation alloc, List<String> addresses, Backend backendWanted, long memlockWanted) {
        if (alloc != null && addresses.isEmpty()) addresses = alloc.devices().stream().sorted().map(PciAddress::toString).toList();
        if (addresses.isEmpty()) throw new LeaseException(LeaseException.Kind.INVALID, "no devices requested");
        if (addresses.size() > MAX_DEVICES_PER_ACQUIRE) {
            throw new LeaseException(LeaseException.Kind.INVALID, addresses.size() + " devices requested, at most " + MAX_DEVICES_PER_ACQUIRE);
        }
        Set<PciAddress> wanted = new LinkedHashSet<>();
        for (String a : addresses) {
            try {
                if (!wanted.add(PciAddress.parse(a))) throw new LeaseException(LeaseException.Kind.INVALID, "device " + a + " requested twice");
            } catch (IllegalArgumentException e) {
                throw new LeaseException(LeaseException.Kind.INVALID, e.getMessage());
            }
        }
        if (alloc != null) {
            for (PciAddress a : wanted) {
                if (!alloc.devices().contains(a)) {
                    refused(caller, a, null, "not in the allocation", "kubernetesResource", alloc.resource());
                    throw new LeaseException(LeaseException.Kind.DENIED, a + " is not part of the " + alloc.describe());
                }
            }
        }

        // Taken before the reads: a bind planned from them knows whether a binding change ran since.
        long changesBefore = bindingChanges.getAsLong();
        // Policy first, for every device asked for: nothing is touched for a refused request.
        List<Decision.Allowed> decisions = new ArrayList<>();
        List<Device> devices = new ArrayList<>();
        Map<Integer, HostInventory> groups = new LinkedHashMap<>();
        Set<Integer> readyGroups = new HashSet<>();
        for (PciAddress a : wanted) {
            HostInventory around = scanner.around(a)
                    .orElseThrow(() -> new LeaseException(LeaseException.Kind.NOT_FOUND, "no PCI device " + a + " on this host"));
            Device d = around.device(a).orElseThrow();
            decisions.add(allowed(caller, who, a, around, null));
            if (d.iommuGroup() == null) {
                throw new LeaseException(LeaseException.Kind.PRECONDITION, a + " is in no IOMMU group: the kernel has no IOMMU enabled for it");
            }
            IommuGroup g = around.group(d.iommuGroup()).orElseThrow();
            // Already usable (on vfio-pci, group viable): no binding step, journal or lock needed for it.
            if (d.boundTo(BindingService.VFIO_PCI) && g.viable()) readyGroups.add(d.iommuGroup());
            groups.putIfAbsent(d.iommuGroup(), around);
            devices.add(d);
        }
        Backend backend = chooseBackend(backendWanted, decisions);

        // The legacy group fd opens every member of its group: each must be granted too, and counts as a device.
        List<Device> members = new ArrayList<>();
        if (backend == Backend.LEGACY) {
            for (Map.Entry<Integer, HostInventory> e : groups.entrySet()) {
                HostInventory around = e.getValue();
                for (PciAddress m : around.group(e.getKey()).orElseThrow().devices()) {
                    if (wanted.contains(m)) continue;
                    Device md = around.device(m).orElse(null);
                    if (md == null || BindingService.leaveAlone(md)) continue;
                    decisions.add(allowed(caller, who, m, around, wanted.iterator().next()));
                    members.add(md);
                }
            }
        }

        int max = decisions.stream().mapToInt(Decision.Allowed::maxDevices).filter(v -> v >= 0).min().orElse(-1);
        long perLease = decisions.stream().mapToLong(Decision.Allowed::memlockBytesPerLease).filter(v -> v >= 0).min().orElse(-1);
        long limit = memlockWanted > 0 ? (perLease >= 0 ? Math.min(memlockWanted, perLease) : memlockWanted) : perLease;
        long perPrincipal = decisions.stream().mapToLong(Decision.Allowed::memlockBytesPerPrincipal).filter(v -> v >= 0).min().orElse(-1);
        boolean unsafe = decisions.stream().anyMatch(Decision.Allowed::unsafeInterrupts);
        boolean keepBound = decisions.stream().anyMatch(Decision.Allowed::keepBound);
        Map<Integer, GroupRead> reads = new LinkedHashMap<>();
        groups.forEach((g, around) -> reads.put(g, new GroupRead(g, around.group(g).orElseThrow().devices().stream()
                .flatMap(m -> around.device(m).stream()).toList(), changesBefore)));
        return new Grant(caller, who, alloc, devices, members, decisions, readyGroups, reads, backend, limit, perPrincipal, max, unsafe,
                keepBound);
    }

    /** Policy's answer for one device, or the refusal (audited) naming it, the rule, and the requested device it came with. */
    private Decision.Allowed allowed(Caller caller, Principal who, PciAddress a, HostInventory around, PciAddress memberOf) {
        Decision decision = policy.decide(who, a, around);
        if (decision instanceof Decision.Refused r) {
            String reason = memberOf == null ? r.reason()
                    : a + " shares IOMMU group " + around.device(a).map(Device::iommuGroup).orElse(null) + " with " + memberOf
                    + ", and a legacy lease opens the whole group, but it is not granted: " + r.reason();
            refused(caller, a, r.rule(), reason);
            throw new LeaseException(LeaseException.Kind.DENIED, reason, r.rule(), null);
        }
        return (Decision.Allowed) decision;
    }

    private void refused(Caller caller, PciAddress a, String rule, String reason, Object... more) {
        List<Object> kv = new ArrayList<>(List.of("uid", caller.uid(), "pid", caller.pid(), "device", a));
        if (rule != null) kv.addAll(List.of("rule", rule));
        kv.addAll(List.of("reason", reason));
        kv.addAll(List.of(more));
        audit.append("acquire-refused", kv.toArray());
    }

    private Backend chooseBackend(Backend wanted, List<Decision.Allowed> grants) {
        List<Backend> offered = List.copyOf(domains.availableBackends());
        // In this order so that refusals read "[iommufd, legacy]", as they always have.
        Set<Backend> allowed = new LinkedHashSet<>(List.of(Backend.IOMMUFD, Backend.LEGACY));
        for (Decision.Allowed g : grants) allowed.retainAll(g.backends());
        if (wanted != null) {
            if (!allowed.contains(wanted)) {
                throw new LeaseException(LeaseException.Kind.DENIED, "backend " + wanted.wireName() + " is not allowed by rule '" + grants.get(0).rule()
                        + "' (allowed: " + names(allowed) + ")", grants.get(0).rule(), null);
            }
            if (!offered.contains(wanted)) {
                throw new LeaseException(LeaseException.Kind.PRECONDITION, "backend " + wanted.wireName() + " is not offered by this kernel (offered: "
                        + names(offered) + ")");
            }
            return wanted;
        }
        // Legacy first when both are allowed: it is what every kernel and client speaks.
        for (Backend b : List.of(Backend.LEGACY, Backend.IOMMUFD)) if (allowed.contains(b) && offered.contains(b)) return b;
        throw new LeaseException(LeaseException.Kind.PRECONDITION, "no IOMMU backend both allowed " + names(allowed) + " and offered by this kernel "
                + names(offered));
    }

    private static List<String> names(Collection<Backend> backends) {
        return backends.stream().map(Backend::wireName).toList();
    }
}
