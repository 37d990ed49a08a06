package io.vfiobroker.dra;

import io.vfiobroker.core.DeviceProvisioning;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Keeps the ResourceSlices current: at start, soon after every device or binding event (hotplug and SR-IOV changes
 * arrive as uevents), and every resync interval for what no event reports, it publishes what {@link SliceDevices}
 * says; the publisher asks the API server only when that changed. A failure (API server away) is logged and retried
 * at the next event or resync.
 */
public final class DraSlices implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DraSlices.class);

    private final SliceDevices devices;
    private final ResourceSlicePublisher publisher;
    private final DeviceProvisioning core;
    /** Events come in bursts (a VF created is several uevents): one refresh after the burst. */
    static final Duration SETTLE = Duration.ofMillis(200);

    private Map<String, String> withdrawn = Map.of();
    private final java.util.concurrent.atomic.AtomicBoolean pending = new java.util.concurrent.atomic.AtomicBoolean();
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "dra-slices");
        t.setDaemon(true);
        return t;
    });

    public DraSlices(SliceDevices devices, ResourceSlicePublisher publisher, DeviceProvisioning core) {
        this.devices = devices;
        this.publisher = publisher;
        this.core = core;
    }

    /** Publishes nothing (no API server): the kubelet side still works, the scheduler just sees no devices. */
    public static DraSlices off() {
        return new DraSlices(null, null, null);
    }

    public void start(Duration every) {
        if (publisher == null) return;
        timer.scheduleWithFixedDelay(this::refreshQuietly, 0, every.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Asks for a refresh after {@link #SETTLE}; calls meanwhile share it. Never blocks: the event bus calls it for every
     * device and binding event.
     */
    public void soon() {
        if (publisher == null || !pending.compareAndSet(false, true)) return;
        try {
            timer.schedule(() -> {
                pending.set(false);
                refreshQuietly();
            }, SETTLE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            pending.set(false);
        }
    }

    /** Refreshes soon after every device or binding event on {@code bus}: those can change what the slices offer. */
    public void follow(io.vfiobroker.events.EventBus bus) {
        bus.addSink(p -> {
            String kind = p.event().kind();
            if (kind.equals("device") || kind.equals("binding")) soon();
        });
    }

    /** One pass: the current inventory to the API server. */
    public synchronized boolean refresh() {
        if (publisher == null) return false;
        SliceDevices.Offer offer = devices.offer(core.inventory(), core.originalDrivers());
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
