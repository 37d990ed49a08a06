package io.vfiobroker.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.vfiobroker.accounting.AccountingService;
import io.vfiobroker.domain.Device;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.inventory.InventoryCache;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.lease.LeaseService;

import java.util.Comparator;
import java.util.List;

/**
 * The daemon's Prometheus series. Per-lease and per-uid memlock series are capped at {@link #MAX_SERIES}
 * (largest use first) so a busy host cannot blow up label cardinality; the host totals are always there.
 */
public final class BrokerMetrics {

    public static final int MAX_SERIES = 32;

    private final MultiGauge leaseUsed;
    private final MultiGauge leaseLimit;
    private final MultiGauge uidUsed;
    private final MultiGauge uidLimit;

    public BrokerMetrics(MeterRegistry registry, InventoryCache cache, LeaseService leases, AccountingService accounting, EventBus bus) {
        for (String state : List.of("vfio", "host_driver", "none")) {
            Gauge.builder("vfio_broker_devices", cache, c -> c.devices().stream().filter(d -> state(d).equals(state)).count())
                    .description("PCI functions by who drives them: vfio-pci, a host driver, or none").tag("state", state).register(registry);
        }
        Gauge.builder("vfio_broker_leases_active", leases, l -> l.active().size()).description("leases not yet ended").register(registry);
        Gauge.builder("vfio_broker_memlock_host_used_bytes", accounting, a -> a.latest().host().usedBytes())
                .description("locked/pinned memory of all lease holders").register(registry);
        Gauge.builder("vfio_broker_memlock_host_limit_bytes", accounting, a -> a.latest().host().limitBytes())
                .description("sum of lease holders' RLIMIT_MEMLOCK; -1 when any is unlimited").register(registry);
        leaseUsed = MultiGauge.builder("vfio_broker_memlock_used_bytes").description("memlock used per lease, max(VmLck, VmPin)").register(registry);
        leaseLimit = MultiGauge.builder("vfio_broker_memlock_limit_bytes").description("RLIMIT_MEMLOCK per lease; -1 = unlimited").register(registry);
        uidUsed = MultiGauge.builder("vfio_broker_principal_memlock_used_bytes").description("memlock used per uid").register(registry);
        uidLimit = MultiGauge.builder("vfio_broker_principal_memlock_limit_bytes").description("memlock limit per uid; -1 = unlimited").register(registry);
        accounting.addListener(this::memlock);
        memlock(accounting.latest());

        FunctionCounter.builder("vfio_broker_event_watchers_dropped", bus, EventBus::droppedSubscribers)
                .description("event watchers cut off because they read too slowly").register(registry);
        FunctionCounter.builder("vfio_broker_events_dropped", bus, EventBus::undeliveredEvents)
                .description("events that found a watcher's queue full").register(registry);
        Gauge.builder("vfio_broker_event_watchers", bus, EventBus::subscriberCount).description("open event watchers").register(registry);
        bus.addSink(p -> {
            BrokerEvent e = p.event();
            Counter.builder("vfio_broker_events_published").tag("kind", e.kind()).register(registry).increment();
            if (e instanceof BrokerEvent.BindingChanged b) {
                Counter.builder("vfio_broker_binding_operations").description("bind and release operations by outcome")
                        .tags("operation", b.operation(), "outcome", b.ok() ? "ok" : "failed").register(registry).increment();
            } else if (e instanceof BrokerEvent.PolicyChanged pc) {
                Counter.builder("vfio_broker_policy_reloads").description("policy load attempts by result")
                        .tag("state", pc.status().state().name().toLowerCase()).register(registry).increment();
            } else if (e instanceof BrokerEvent.DeviceChanged d && d.source().equals("uevent")) {
                Counter.builder("vfio_broker_hotplug_events").tag("type", d.type()).register(registry).increment();
            }
        });
    }

    static String state(Device d) {
        if (d.driver() == null) return "none";
        return d.boundTo(InventoryScanner.VFIO_PCI) ? "vfio" : "host_driver";
    }

    private void memlock(AccountingService.Report r) {
        List<AccountingService.LeaseUse> top = r.leases().stream().sorted(Comparator.comparingLong(AccountingService.LeaseUse::usedBytes).reversed())
                .limit(MAX_SERIES).toList();
        leaseUsed.register(top.stream().map(u -> MultiGauge.Row.of(Tags.of("lease", u.leaseId(), "uid", Integer.toString(u.uid())), u.usedBytes())).toList(), true);
        leaseLimit.register(top.stream().map(u -> MultiGauge.Row.of(Tags.of("lease", u.leaseId(), "uid", Integer.toString(u.uid())), u.limitBytes())).toList(), true);
        List<AccountingService.PrincipalUse> uids = r.principals().stream().sorted(Comparator.comparingLong(AccountingService.PrincipalUse::usedBytes).reversed())
                .limit(MAX_SERIES).toList();
        uidUsed.register(uids.stream().map(p -> MultiGauge.Row.of(Tags.of("uid", Integer.toString(p.uid())), p.usedBytes())).toList(), true);
        uidLimit.register(uids.stream().map(p -> MultiGauge.Row.of(Tags.of("uid", Integer.toString(p.uid())), p.limitBytes())).toList(), true);
    }
}
