package io.vfiobroker.hotplug;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.inventory.InventoryCache;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.nativeshim.Uevent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Turns kernel uevents for PCI functions into inventory updates and bus events: add/remove, bind/unbind, and
 * "change" (SR-IOV VF count). Only the named function (and, for SR-IOV, its VFs) is read again. A leased
 * function that disappears ends its lease. The netlink listener and the tests both feed {@link #handle}.
 */
public record UeventHandler(InventoryCache cache, EventBus bus, LeaseService leases) {

    private static final Logger log = LoggerFactory.getLogger(UeventHandler.class);

    /** Handles one uevent; returns what it published (nothing for other subsystems or no change). */
    public List<BrokerEvent> handle(Uevent ev) {
        if (!"pci".equals(ev.subsystem())) return List.of();
        String slot = ev.properties().getOrDefault("PCI_SLOT_NAME", last(ev.devpath()));
        if (!PciAddress.isValid(slot)) return List.of();
        PciAddress a = PciAddress.parse(slot);
        List<BrokerEvent> out = new ArrayList<>();
        switch (ev.action()) {
            case "remove" -> removed(a, ev, out);
            case "add" -> {
                InventoryCache.Change c = cache.refresh(a);
                if (c.after() != null && c.changed()) out.add(device(c.before() == null ? "device-added" : "device-changed", c.after(), ev));
            }
            case "bind", "unbind" -> {
                InventoryCache.Change c = cache.refresh(a);
                if (c.after() == null) removed(a, ev, out);
                else if (c.changed()) out.add(device(c.after().driver() == null ? "driver-unbound" : "driver-bound", c.after(), ev));
            }
            default -> changed(a, ev, out);
        }
        for (BrokerEvent e : out) bus.publish(e);
        return out;
    }

    private void changed(PciAddress a, Uevent ev, List<BrokerEvent> out) {
        InventoryCache.Change c = cache.refresh(a);
        if (c.after() == null) {
            if (c.before() != null) removed(a, ev, out);
            return;
        }
        int before = c.before() == null || c.before().sriov() == null ? -1 : c.before().sriov().numVfs();
        int after = c.after().sriov() == null ? -1 : c.after().sriov().numVfs();
        if (before != after) {
            out.add(device("sriov-changed", c.after(), ev));
            // The kernel sends add/remove per VF too; reconciling here keeps the cache right if those are missed.
            Set<PciAddress> now = new LinkedHashSet<>(c.after().sriov() == null ? List.of() : c.after().sriov().virtualFunctions());
            for (PciAddress vf : cache.virtualFunctionsOf(a)) if (!now.contains(vf)) removed(vf, ev, out);
            for (PciAddress vf : now) {
                InventoryCache.Change v = cache.refresh(vf);
                if (v.before() == null && v.after() != null) out.add(device("device-added", v.after(), ev));
            }
        } else if (c.changed()) {
            out.add(device("device-changed", c.after(), ev));
        }
    }

    private void removed(PciAddress a, Uevent ev, List<BrokerEvent> out) {
        InventoryCache.Change c = cache.remove(a);
        List<String> ended = new ArrayList<>();
        for (Lease l : leases.active()) {
            if (l.live() && l.allDevices().stream().anyMatch(d -> d.address().equals(a))) {
                String reason = "device " + a + " was removed from the host (kernel uevent " + ev.action() + " " + ev.devpath() + ")";
                leases.revoke(l.id(), reason).ifPresent(x -> ended.add(x.id()));
            }
        }
        if (c.before() == null && ended.isEmpty()) return; // never knew it: nothing changed for anyone
        Device d = c.before();
        log.info("event=device-removed device={} ended-leases={}", a, ended);
        out.add(new BrokerEvent.DeviceChanged("device-removed", a.toString(), null, d == null || d.iommuGroup() == null ? -1 : d.iommuGroup(),
                d == null ? null : d.vendorDevice(), "uevent", ev.action(), ev.devpath(), -1, ended));
    }

    private static BrokerEvent device(String type, Device d, Uevent ev) {
        log.info("event={} device={} driver={} source=uevent", type, d.address(), d.driver());
        return new BrokerEvent.DeviceChanged(type, d.address().toString(), d.driver(), d.iommuGroup() == null ? -1 : d.iommuGroup(),
                d.vendorDevice(), "uevent", ev.action(), ev.devpath(), d.sriov() == null ? -1 : d.sriov().numVfs(), List.of());
    }

    private static String last(String devpath) {
        int i = devpath.lastIndexOf('/');
        return i < 0 ? devpath : devpath.substring(i + 1);
    }
}
