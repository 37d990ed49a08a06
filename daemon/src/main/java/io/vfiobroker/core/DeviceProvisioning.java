package io.vfiobroker.core;

import io.vfiobroker.binding.BindingException;
import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.BindingRequests;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.iommu.DeviceNodes;
import io.vfiobroker.policy.HostSelectorFacts;
import io.vfiobroker.policy.Principal;
import io.vfiobroker.policy.SelectorFacts;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The application core the kubelet device plugin, the DRA driver and the CLI call: what the host has, whether
 * policy lets a consumer have a device, preparing devices (policy for all first, then the bind of each whole group,
 * undone on failure), releasing, and what vfio-broker owns. Adapters translate and authorize; the order is decided here.
 */
public final class DeviceProvisioning {

    public static final String VFIO_PCI = BindingService.VFIO_PCI;
    private static final Logger log = LoggerFactory.getLogger(DeviceProvisioning.class);

    /** What a prepare changed: the binds that made a group vfio-broker's, in order. Groups already ours or on vfio-pci are not in it. */
    public record Prepared(List<BindingPlan> bound) {
        public Prepared {
            bound = List.copyOf(bound);
        }

        public List<Integer> boundGroups() {
            return bound.stream().map(BindingPlan::group).toList();
        }
    }

    private final InventoryScanner scanner;
    private final BindingRequests requests;
    private final BindingService binding;
    private final DeviceAccess access;
    private final DeviceNodes nodes;

    /** @param requests the binding service behind the audit of admin changes (bind, release, reconcile) */
    public DeviceProvisioning(InventoryScanner scanner, BindingRequests requests, DeviceAccess access) {
        this.scanner = scanner;
        this.requests = requests;
        this.binding = requests.service();
        this.access = access;
        this.nodes = new DeviceNodes(scanner.host());
    }

    /** Without an audit log: what tests and a read-only caller need. */
    public DeviceProvisioning(InventoryScanner scanner, BindingService binding, DeviceAccess access) {
        this(scanner, new BindingRequests(binding, null), access);
    }

    // ---- reading ------------------------------------------------------------------------------------------------

    /** The host's devices and groups, read now. */
    public HostInventory inventory() {
        return scanner.scan();
    }

    /** Devices vfio-broker bound, with what to restore them to. */
    public Map<PciAddress, Journal.Owned> owned() {
        return binding.status();
    }

    /** The driver each device vfio-broker bound had before: pool selectors on {@code driver} still match it. */
    public Map<PciAddress, String> originalDrivers() {
        Map<PciAddress, String> m = new HashMap<>();
        binding.status().forEach((a, o) -> m.put(a, o.originalDriver()));
        return m;
    }

    /** The /dev nodes a device is reached through, as the domain opener opens them: what a container is given. */
    public DeviceNodes deviceNodes() {
        return nodes;
    }

    /** What a pool's selectors match on beyond the inventory: PF netdev names, and drivers vfio-broker replaced. */
    public SelectorFacts selectorFacts(HostInventory inventory, Map<PciAddress, String> driversBefore) {
        return new HostSelectorFacts(scanner.host(), inventory, driversBefore);
    }

    public boolean owns(int group) {
        return binding.owns(group);
    }

    /** Policy's reason to refuse {@code device} to {@code who}, if any, against the inventory the caller read. */
    public Optional<String> refusal(Principal who, PciAddress device, HostInventory inventory) {
        return access.refusal(who, device, inventory);
    }

    // ---- preparing for a consumer ---------------------------------------------------------------------------------

    /** Policy for every device, then (if {@code bind}) the bind of each one's group; reads the host once. */
    public Prepared prepare(Principal who, List<PciAddress> devices, boolean bind) {
        return prepare(who, devices, bind ? devices : List.of(), inventory());
    }

    /**
     * Asks policy for every device of {@code devices}; only when all are granted binds the whole group of each device of
     * {@code bind}, group by group. A refusal binds nothing; a failed bind undoes the groups this call bound.
     */
    public Prepared prepare(Principal who, List<PciAddress> devices, Collection<PciAddress> bind, HostInventory inventory) {
        for (PciAddress a : devices) {
            var refusal = access.refusal(who, a, inventory);
            if (refusal.isPresent()) throw new PrepareException(PrepareException.Kind.POLICY, a, refusal.get(), null);
        }
        List<BindingPlan> bound = new ArrayList<>();
        Set<Integer> groups = new HashSet<>();
        try {
            for (PciAddress a : bind) {
                Integer g = inventory.device(a).map(Device::iommuGroup).orElse(null);
                if (g != null && !groups.add(g)) continue;
                boolean ownedBefore = g != null && binding.owns(g);
                BindingPlan plan;
                try {
                    // The group the caller's inventory read is passed down, not read again (the bind refuses a device that left it).
                    plan = g != null ? binding.bind(g, a) : binding.bind(a, false);
                } catch (BindingException e) {
                    throw new PrepareException(e.refused() ? PrepareException.Kind.BIND_REFUSED : PrepareException.Kind.BIND_FAILED,
                            a, e.getMessage(), e);
                }
                // A plan with writes journaled the group's members: it is ours now, and this call made it so.
                if (!ownedBefore && !plan.steps().isEmpty()) bound.add(plan);
            }
        } catch (RuntimeException e) {
            undo(new Prepared(bound));
            throw e;
        }
        return new Prepared(bound);
    }

    /** Gives back what a prepare bound, newest first; a failure is logged (the journal still holds the group). */
    public void undo(Prepared prepared) {
        List<Integer> groups = new ArrayList<>(prepared.boundGroups());
        Collections.reverse(groups);
        for (int g : groups) {
            try {
                binding.release(g, true, false);
            } catch (RuntimeException e) {
                log.warn("event=prepare-undo-failed group={} error=\"{}\"", g, e.getMessage());
            }
        }
    }

    /** Releases a group vfio-broker owns ({@code restore}: back to the original drivers); false if it owns none of it. */
    public boolean release(int group, boolean restore) {
        if (!binding.owns(group)) return false;
        binding.release(group, restore, false);
        return true;
    }

    // ---- an admin's binding changes (audited with who asked) --------------------------------------------------------

    /** Binds the group of {@code address}, or {@code group}: exactly one of them. */
    public BindingPlan bind(String address, Integer group, boolean dryRun, String by) {
        return requests.bind(address, group, dryRun, by);
    }

    public BindingPlan release(String address, Integer group, boolean restore, boolean dryRun, String by) {
        return requests.release(address, group, restore, dryRun, by);
    }

    /** Finishes or undoes what a crashed run left half done. */
    public List<String> reconcile(String by) {
        return requests.reconcile(by);
    }
}
