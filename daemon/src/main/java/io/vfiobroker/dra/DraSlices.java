package io.vfiobroker.dra;

import io.vfiobroker.binding.BindingService;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.inventory.InventoryScanner;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the ResourceSlices current: at start and every refresh interval (the inventory's cache period, which
 * hotplug and SR-IOV changes invalidate), it publishes what {@link SliceDevices} says; the publisher asks the API
 * server only when that changed. A failure (API server away) is logged and retried at the next tick.
 */
public final class DraSlices implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DraSlices.class);

    private final SliceDevices devices;
    private final ResourceSlicePublisher publisher;
    private final InventoryScanner scanner;
    private final BindingService binding;
    private Map<String, String> withdrawn = Map.of();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "dra-slices");
        t.setDaemon(true);
        return t;
    });

    public DraSlices(SliceDevices devices, ResourceSlicePublisher publisher, InventoryScanner scanner, BindingService binding) {
        this.devices = devices;
        this.publisher = publisher;
        this.scanner = scanner;
        this.binding = binding;
    }

    /** Publishes nothing (no API server): the kubelet side still works, the scheduler just sees no devices. */
    public static DraSlices off() {
        return new DraSlices(null, null, null, null);
    }

    public void start(Duration every) {
        if (publisher == null) return;
        timer.scheduleWithFixedDelay(this::refreshQuietly, 0, every.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** One pass: the current inventory to the API server. */
    public synchronized boolean refresh() {
        if (publisher == null) return false;
        Map<PciAddress, String> original = new HashMap<>();
        binding.status().forEach((a, o) -> original.put(a, o.originalDriver()));
        SliceDevices.Offer offer = devices.offer(scanner.scan(), original);
        boolean wrote = publisher.publish(offer.pools());
        // Logged on change only: the refresh runs every few seconds.
        offer.withdrawn().forEach((d, why) -> {
            if (!why.equals(withdrawn.get(d))) log.warn("event=resourceslice-device-withdrawn device={} reason=\"{}\"", d, why);
        });
        withdrawn.keySet().stream().filter(d -> !offer.withdrawn().containsKey(d))
                .forEach(d -> log.info("event=resourceslice-device-offered-again device={}", d));
        withdrawn = offer.withdrawn();
        return wrote;
    }

    private void refreshQuietly() {
        try {
            refresh();
        } catch (RuntimeException e) {
            log.warn("event=resourceslice-publish-failed error=\"{}\" retry=next-refresh", e.getMessage());
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
