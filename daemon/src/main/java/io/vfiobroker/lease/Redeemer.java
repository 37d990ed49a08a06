package io.vfiobroker.lease;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.nativeshim.OwnedFd;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

/** Turns a one-time ticket into the lease's fds, for the uid the lease was granted to only. */
final class Redeemer {

    private final Tickets tickets;
    private final LeaseRegistry registry;
    private final AuditLog audit;
    private final LeaseChanges changes;
    private final BiConsumer<String, String> end;

    Redeemer(Tickets tickets, LeaseRegistry registry, AuditLog audit, LeaseChanges changes, BiConsumer<String, String> end) {
        this.tickets = tickets;
        this.registry = registry;
        this.audit = audit;
        this.changes = changes;
        this.end = end;
    }

    /**
     * Redeems a ticket presented on the fd socket by {@code presenter} (from SO_PEERCRED there). One use only. The
     * fds come as duplicates taken while the lease is known to be live: the caller sends and closes them.
     */
    LeaseService.Handover redeem(String ticket, Caller presenter) {
        try {
            Tickets.Ticket t = tickets.take(ticket);
            if (t == null) {
                audit.append("redeem-refused", "uid", presenter.uid(), "pid", presenter.pid(), "reason", "unknown, used or expired ticket");
                throw new LeaseException(LeaseException.Kind.DENIED, "unknown, already used or expired ticket");
            }
            LeaseRegistry.Held h = registry.held(t.leaseId()).orElse(null);
            if (h == null || !h.lease().live()) throw new LeaseException(LeaseException.Kind.NOT_FOUND, "lease " + t.leaseId() + " has ended");
            if (h.lease().holder().uid() != presenter.uid()) {
                // The ticket is burnt: a leaked ticket cannot be retried by its rightful owner either, so end the lease.
                audit.append("redeem-refused", "lease", t.leaseId(), "uid", presenter.uid(), "pid", presenter.pid(), "reason", "uid mismatch");
                end.accept(t.leaseId(), "ticket presented by uid " + presenter.uid() + ", not the lease holder");
                throw new LeaseException(LeaseException.Kind.DENIED, "this ticket belongs to another uid");
            }
            LeaseService.Handover handover;
            LeaseRegistry.Held active;
            synchronized (registry) {
                active = registry.activate(t.leaseId())
                        .orElseThrow(() -> new LeaseException(LeaseException.Kind.NOT_FOUND, "lease " + t.leaseId() + " has ended"));
                // Still under the registry's lock: an ending lease cannot close these fds before they are duplicated.
                handover = new LeaseService.Handover(active.lease(), duplicates(active.domain().fds()));
            }
            changes.redeemed(t.leaseId());
            audit.append("fds-handed-over", "lease", t.leaseId(), "uid", presenter.uid(), "pid", presenter.pid(), "fds", handover.fds().size());
            changes.changed(active.lease());
            return handover;
        } finally {
            audit.sync();
        }
    }

    private static List<HandoverFd> duplicates(List<HandoverFd> fds) {
        List<HandoverFd> out = new ArrayList<>(fds.size());
        try {
            for (HandoverFd f : fds) {
                OwnedFd dup = f.fd().duplicate();
                out.add(new HandoverFd(f.kind(), dup, f.device(), f.group(), f.ioasId(), f.regions()));
            }
            return out;
        } catch (RuntimeException e) {
            for (HandoverFd f : out) f.fd().close();
            throw e;
        }
    }
}
