package io.vfiobroker.binding;

import io.vfiobroker.domain.PciAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/** Counts the binding changes that ran and tells the listeners (events, metrics, the inventory cache) of each. */
final class ChangeFeed {

    private static final Logger log = LoggerFactory.getLogger(ChangeFeed.class);

    private final List<Consumer<BindingService.Change>> listeners = new CopyOnWriteArrayList<>();
    private final AtomicLong count = new AtomicLong();

    long count() {
        return count.get();
    }

    /** A change to the host that ran outside a bind or release (reconcile): facts read before it are stale. */
    void bump() {
        count.incrementAndGet();
    }

    void add(Consumer<BindingService.Change> l) {
        listeners.add(l);
    }

    /** Runs {@code work}, counted after its writes (so a read that saw the old count may be stale), then reports it. */
    BindingPlan reported(String op, int group, PciAddress requested, Supplier<BindingPlan> work) {
        BindingService.Change c = null;
        try {
            BindingPlan plan = work.get();
            c = new BindingService.Change(op, plan.group(), requested, plan, null);
            return plan;
        } catch (RuntimeException e) {
            c = new BindingService.Change(op, group, requested, null, e);
            throw e;
        } finally {
            count.incrementAndGet();
            for (Consumer<BindingService.Change> l : listeners) {
                try {
                    l.accept(c);
                } catch (RuntimeException e) {
                    log.warn("event=binding-listener-failed error=\"{}\"", e.getMessage());
                }
            }
        }
    }
}
