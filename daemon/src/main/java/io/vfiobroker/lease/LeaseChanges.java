package io.vfiobroker.lease;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Where a lease's changes go besides the registry: the listeners (events, metrics, the console) and, once
 * {@link LeaseService#persistTo} ran, the lease store. Shared by the service, {@link Redeemer} and {@link LeaseEnder}.
 */
final class LeaseChanges {

    // Logged under the service's name, where operators have always found these lines.
    private static final Logger log = LoggerFactory.getLogger(LeaseService.class);

    private final List<Consumer<Lease>> listeners = new CopyOnWriteArrayList<>();
    private volatile LeaseStore store;

    void addListener(Consumer<Lease> l) {
        listeners.add(l);
    }

    void persistTo(LeaseStore s) {
        store = s;
    }

    /** Tells every listener; one that throws is logged and the others still hear. */
    void changed(Lease l) {
        for (Consumer<Lease> c : listeners) {
            try {
                c.accept(l);
            } catch (RuntimeException e) {
                log.warn("event=lease-listener-failed error=\"{}\"", e.getMessage());
            }
        }
    }

    void added(LeaseStore.Stored lease) {
        LeaseStore s = store;
        if (s != null) s.added(lease);
    }

    void redeemed(String id) {
        LeaseStore s = store;
        if (s != null) s.redeemed(id);
    }

    void ended(String id) {
        LeaseStore s = store;
        if (s != null) s.ended(id);
    }

    /**
     * A failed Acquire's lease, once its undo ran: until then the store keeps it unredeemed, which a restart ends
     * (restoring its devices). Never throws: the Acquire's own error is what its caller must hear.
     */
    void abandoned(String id) {
        try {
            ended(id);
        } catch (RuntimeException e) {
            log.warn("event=lease-store-failed lease={} error=\"{}\"", id, e.getMessage());
        }
    }
}
