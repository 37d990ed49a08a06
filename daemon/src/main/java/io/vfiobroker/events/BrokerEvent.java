package io.vfiobroker.events;

import io.vfiobroker.accounting.AccountingService;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.policy.LoadStatus;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Something that changed, as the bus carries it. {@link #kind()} is the coarse family (also the SSE event name
 * the console listens for), {@link #type()} the specific change.
 */
public sealed interface BrokerEvent {

    /** device, binding, lease, policy, accounting — or "dropped" for a watcher's final message. */
    String kind();

    String type();

    /** The event's fields for JSON (SSE): flat, names as the console reads them. */
    Map<String, Object> fields();

    /**
     * A PCI function appeared, disappeared or changed (driver, VF count).
     *
     * @param type         device-added, device-removed, driver-bound, driver-unbound, sriov-changed, device-changed
     * @param iommuGroup   -1 when none (or removed)
     * @param source       "uevent" (kernel) or "binding" (the daemon's own write)
     * @param endedLeases  leases ended because the device disappeared
     */
    record DeviceChanged(String type, String address, String driver, int iommuGroup, String vendorDevice, String source,
                         String ueventAction, String devpath, int numVfs, List<String> endedLeases) implements BrokerEvent {
        public DeviceChanged {
            endedLeases = List.copyOf(endedLeases);
        }

        public String kind() { return "device"; }

        public Map<String, Object> fields() {
            return map("address", address, "driver", driver, "group", iommuGroup < 0 ? null : iommuGroup, "vendorDevice", vendorDevice,
                    "source", source, "ueventAction", ueventAction, "devpath", devpath, "numVfs", numVfs < 0 ? null : numVfs,
                    "endedLeases", endedLeases.isEmpty() ? null : endedLeases);
        }
    }

    /** @param type bind, release, bind-failed, release-failed */
    record BindingChanged(String type, String operation, int group, String requested, List<String> devices, boolean ok, String error)
            implements BrokerEvent {
        public BindingChanged {
            devices = List.copyOf(devices);
        }

        public String kind() { return "binding"; }

        public Map<String, Object> fields() {
            return map("operation", operation, "group", group, "address", requested, "devices", devices, "ok", ok, "error", error);
        }
    }

    /** @param type lease-granted, lease-active, lease-ending, lease-stuck, lease-ended */
    record LeaseChanged(String type, Lease lease) implements BrokerEvent {
        public static LeaseChanged of(Lease l) {
            return new LeaseChanged("lease-" + l.state().name().toLowerCase(java.util.Locale.ROOT), l);
        }

        public String kind() { return "lease"; }

        public Map<String, Object> fields() {
            return map("leaseId", lease.id(), "state", lease.state().name(), "uid", lease.holder().uid(), "pid", lease.holder().pid(),
                    "devices", lease.devices().stream().map(d -> d.address().toString()).toList(), "rule", lease.rule(),
                    "backend", lease.backend().wireName(), "memlockLimitBytes", lease.memlockLimitBytes(), "reason", lease.endReason());
        }
    }

    /** @param type policy-loaded, policy-rejected, policy-missing */
    record PolicyChanged(String type, LoadStatus status) implements BrokerEvent {
        public static PolicyChanged of(LoadStatus s) {
            return new PolicyChanged("policy-" + s.state().name().toLowerCase(java.util.Locale.ROOT), s);
        }

        public String kind() { return "policy"; }

        public Map<String, Object> fields() {
            return map("state", status.state().name(), "message", status.message(), "activeSha256", status.activeSha256(),
                    "activeRules", status.activeRules(), "errors", status.errors().size());
        }
    }

    /**
     * A lease's memlock use crossed a threshold.
     *
     * @param type  memlock-near-limit, memlock-over-limit, memlock-ok
     * @param level near-limit, over-limit, ok
     */
    record MemlockThreshold(String type, String leaseId, int uid, int pid, long usedBytes, long limitBytes, String level)
            implements BrokerEvent {
        public static MemlockThreshold of(AccountingService.Crossing c) {
            return new MemlockThreshold(c.type(), c.leaseId(), c.uid(), c.pid(), c.usedBytes(), c.limitBytes(), c.level());
        }

        public String kind() { return "accounting"; }

        public Map<String, Object> fields() {
            return map("leaseId", leaseId, "uid", uid, "pid", pid, "usedBytes", usedBytes, "limitBytes", limitBytes, "level", level);
        }
    }

    /** The last message a watcher gets when it fell behind and was cut off. */
    record Dropped(String reason, long lostFromSeq) implements BrokerEvent {
        public String kind() { return "dropped"; }

        public String type() { return "dropped"; }

        public Map<String, Object> fields() {
            return map("reason", reason, "lostFromSeq", lostFromSeq);
        }
    }

    /** Alternating keys and values; null values are left out. */
    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < kv.length; i += 2) if (kv[i + 1] != null) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
