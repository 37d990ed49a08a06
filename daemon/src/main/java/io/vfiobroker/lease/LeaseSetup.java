package io.vfiobroker.lease;

import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.binding.BindingException;
import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.domain.Device;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainException;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.Rlimits;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Carries out a decided grant, outside every lock (its groups are reserved): binds the groups not yet on vfio-pci, opens
 * the IOMMU domain, and sets the client's RLIMIT_MEMLOCK. What a failed step leaves is undone before the error goes up.
 */
record LeaseSetup(BindingService binding, DomainOpener domains, Memlock memlock, Holders procs) {

    private static final Logger log = LoggerFactory.getLogger(LeaseSetup.class);

    /** What a grant changed: undone if the lease is not committed after all. */
    record Done(DeviceDomain domain, Rlimits.Rlimit memlockBefore, long startTime, List<Integer> boundHere) {
    }

    /** {@code undoing} runs before a failed step's undo: it lets the release through the grant's own reservation. */
    Done apply(GrantDecider.Grant g, Runnable undoing) {
        Caller caller = g.caller();
        List<Integer> boundHere = new ArrayList<>();
        DeviceDomain domain = null;
        try {
            long startTime = procs.startTime(caller.pid()).orElse(ProcessIdentity.GONE);
            // The process that connected, not a later one with its pid: the start time pinned at connect must still match.
            if (startTime == ProcessIdentity.GONE || caller.startTime() == ProcessIdentity.GONE
                    || (caller.startTime() >= 0 && caller.startTime() != startTime)) {
                throw new LeaseException(LeaseException.Kind.PRECONDITION, "client process " + caller.pid() + " exited before its Acquire was served");
            }
            for (Device d : g.devices()) {
                if (g.readyGroups().contains(d.iommuGroup()) || boundHere.contains(d.iommuGroup())) continue;
                boolean ownedBefore = binding.owns(d.iommuGroup());
                // The group as Acquire read it: the bind plans from it unless a binding change ran since.
                BindingPlan plan = binding.bind(g.groupReads().get(d.iommuGroup()), d.address());
                // What the bind wrote made the group ours: this grant undoes exactly that.
                if (!ownedBefore && !plan.steps().isEmpty()) boundHere.add(d.iommuGroup());
            }
            // A legacy lease's group members are opened too: the client could open them through the group fd, and the
            // daemon needs their device fds to reset them at the end.
            List<DomainOpener.Member> members = Stream.concat(g.devices().stream(), g.members().stream())
                    .map(d -> new DomainOpener.Member(d.address(), d.iommuGroup())).toList();
            domain = domains.open(members, g.backend());
            Rlimits.Rlimit before = g.memlockLimit() >= 0 ? limitMemlock(caller, startTime, g.memlockLimit()) : null;
            return new Done(domain, before, startTime, boundHere);
        } catch (RuntimeException e) {
            undoing.run();
            undo(caller, new Done(domain, null, ProcessIdentity.GONE, boundHere));
            throw e;
        }
    }

    /** Closes the domain, restores the memlock limit and releases the groups this grant bound. */
    void undo(Caller caller, Done d) {
        if (d.domain() != null) d.domain().close();
        if (d.memlockBefore() != null) {
            memlock.restore(caller.pid(), d.memlockBefore())
                    .ifPresent(why -> log.warn("event=memlock-restore-failed pid={} error=\"{}\"", caller.pid(), why));
        }
        for (int grp : d.boundHere()) {
            try {
                binding.release(grp, true, false);
            } catch (RuntimeException undo) {
                log.warn("event=acquire-undo-failed group={} error=\"{}\"", grp, undo.getMessage());
            }
        }
    }

    /** prlimit on the client, once its pid is checked to still be the caller (a reused pid must not get the lease's limit). */
    private Rlimits.Rlimit limitMemlock(Caller caller, long startTime, long limit) {
        if (procs.startTime(caller.pid()).orElse(-2L) != startTime) {
            throw new LeaseException(LeaseException.Kind.PRECONDITION, "client process " + caller.pid() + " exited during Acquire");
        }
        return memlock.limit(caller.pid(), limit);
    }

    /** A failed step as the lease error the adapters map: a refusal is the caller's precondition, the rest the kernel's. */
    static RuntimeException translate(RuntimeException e) {
        if (e instanceof LeaseException) return e;
        if (e instanceof BindingException b) {
            return new LeaseException(b.refused() ? LeaseException.Kind.PRECONDITION : LeaseException.Kind.KERNEL, b.getMessage(), null, b);
        }
        if (e instanceof DomainException d) return new LeaseException(LeaseException.Kind.KERNEL, d.getMessage(), null, d);
        if (e instanceof NativeException n) return new LeaseException(LeaseException.Kind.KERNEL, n.getMessage(), null, n);
        if (e instanceof IllegalStateException s) return new LeaseException(LeaseException.Kind.PRECONDITION, s.getMessage(), null, s);
        return e;
    }
}
