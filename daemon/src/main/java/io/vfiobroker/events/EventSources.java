package io.vfiobroker.events;

import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.inventory.InventoryCache;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.policy.PolicyService;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Connects the services' listeners to the bus: lease changes, binding operations (and the driver changes they
 * cause, which a generated host tree reports through no uevent), policy loads.
 */
public final class EventSources {

    private EventSources() {
    }

    public static void connect(EventBus bus, LeaseService leases, BindingService binding, PolicyService policy, InventoryCache cache) {
        leases.addListener(l -> bus.publish(BrokerEvent.LeaseChanged.of(l)));
        policy.addListener(s -> bus.publish(BrokerEvent.PolicyChanged.of(s)));
        binding.addListener(c -> bindingChanged(bus, cache, c));
    }

    private static void bindingChanged(EventBus bus, InventoryCache cache, BindingService.Change c) {
        Set<PciAddress> members = new LinkedHashSet<>();
        if (c.plan() != null) c.plan().members().stream().map(BindingPlan.Member::address).forEach(members::add);
        if (c.requested() != null) members.add(c.requested());
        // Re-read the members: the same refresh a uevent would cause, so the cache and the console agree either way.
        for (PciAddress a : members) {
            InventoryCache.Change ch = cache.refresh(a);
            Device d = ch.after();
            if (d == null || !ch.changed()) continue;
            String before = ch.before() == null ? null : ch.before().driver();
            if (java.util.Objects.equals(before, d.driver())) continue;
            bus.publish(new BrokerEvent.DeviceChanged(d.driver() == null ? "driver-unbound" : "driver-bound", a.toString(), d.driver(),
                    d.iommuGroup() == null ? -1 : d.iommuGroup(), d.vendorDevice(), "binding", null, null, -1, List.of()));
        }
        String type = c.operation() + (c.error() == null ? "" : "-failed");
        bus.publish(new BrokerEvent.BindingChanged(type, c.operation(), c.group(), c.requested() == null ? null : c.requested().toString(),
                members.stream().map(PciAddress::toString).toList(), c.error() == null, c.error() == null ? null : c.error().getMessage()));
    }
}
