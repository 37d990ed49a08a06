package io.vfiobroker.lease;

import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.nativeshim.Rlimits;
import io.vfiobroker.policy.Principal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The leases and their states, and which IOMMU groups they take. A group is taken from the moment an Acquire
 * reserves it until its lease is ENDED, so nobody acquires a group that is being bound or taken back. Short
 * critical sections only: nothing here touches sysfs or the kernel.
 */
final class LeaseRegistry {

    /** A lease and what the daemon holds for it. {@code startTime} tells its client from a later process with the pid. */
    record Held(Lease lease, DeviceDomain domain, Rlimits.Rlimit memlockBefore, boolean keepBound, long startTime, Principal principal,
                boolean adopted) {
        Held with(Lease l) {
            return new Held(l, domain, memlockBefore, keepBound, startTime, principal, adopted);
        }
    }

    /** An Acquire between its decision and its commit: its groups are taken, its devices and memlock counted. */
    private record Reservation(int uid, List<Integer> groups, int devices, long memlock, boolean granted) {
    }

    /** A process that held a lease and still has memory locked: counted against its uid until it exits. */
    record Residue(int pid, long startTime, int uid) {
    }

    private static final int ENDED_KEPT = 1000;

    private final Map<String, Held> leases = new LinkedHashMap<>();
    private final Map<String, Reservation> reserved = new HashMap<>();
    private final Map<Integer, String> groups = new HashMap<>();
    private final java.util.Set<String> releasing = new java.util.HashSet<>();
    private final Deque<Lease> ended = new ArrayDeque<>();
    private final Map<Integer, Residue> residue = new HashMap<>();
    private final Memlock memlock;
    private final Holders procs;
    private final int maxUnredeemedPerUid;

    LeaseRegistry(Memlock memlock, Holders procs, int maxUnredeemedPerUid) {
        this.memlock = memlock;
        this.procs = procs;
        this.maxUnredeemedPerUid = maxUnredeemedPerUid;
    }

    /**
     * Takes the grant's groups for lease {@code id}, or refuses: a group already taken (naming the lease and its
     * state), the uid's device count over maxDevices, its memlock over the per-principal cap, too many unredeemed tickets.
     */
    void reserve(String id, GrantDecider.Grant g) {
        reserve(id, g, g.memlockPerPrincipal() >= 0 && g.memlockLimit() >= 0 ? lockedByHolders(g.caller().uid()) : Map.of());
    }

    private synchronized void reserve(String id, GrantDecider.Grant g, Map<Integer, Long> lockedByPid) {
        int uid = g.caller().uid();
        for (int group : g.groups()) {
            String other = groups.get(group);
            if (other == null) continue;
            Held h = leases.get(other);
            if (h == null) {
                throw new LeaseException(LeaseException.Kind.CONFLICT, "IOMMU group " + group + " is being acquired by another request");
            }
            String what = switch (h.lease().state()) {
                case ENDING -> " is being taken back (" + h.lease().endReason() + ")";
                case STUCK -> " is stuck (" + String.join("; ", h.lease().stuckHolders()) + ")";
                default -> " is leased to " + h.lease().holder() + " as lease " + h.lease().id();
            };
            throw new LeaseException(LeaseException.Kind.CONFLICT, g.devices().stream().filter(d -> d.iommuGroup() == group).findFirst()
                    .map(d -> d.address() + " (IOMMU group " + group + ")").orElse("IOMMU group " + group) + what);
        }
        int count = g.devices().size() + g.members().size();
        if (g.maxDevices() >= 0) {
            int held = devicesOf(uid);
            if (held + count > g.maxDevices()) {
                throw new LeaseException(LeaseException.Kind.EXHAUSTED, "uid " + uid + " holds " + held + " device(s) and asks for " + count
                        + (g.members().isEmpty() ? "" : " (with the IOMMU group members a legacy lease opens)") + "; rule '" + g.rule()
                        + "' allows at most " + g.maxDevices());
            }
        }
        if (uid != 0 && unredeemed(uid) >= maxUnredeemedPerUid) {
            throw new LeaseException(LeaseException.Kind.EXHAUSTED, "uid " + uid + " has " + maxUnredeemedPerUid
                    + " leases whose tickets are not yet redeemed; redeem or release them first");
        }
        if (g.memlockPerPrincipal() >= 0 && g.memlockLimit() >= 0) {
            long use = memlockOf(uid, lockedByPid);
            if (use + g.memlockLimit() > g.memlockPerPrincipal()) {
                throw new LeaseException(LeaseException.Kind.EXHAUSTED, "uid " + uid + " has " + use + " bytes of memlock in use or granted "
                        + "(limits of its leases, or more where its processes locked more, and memory still locked by processes whose "
                        + "leases ended); " + g.memlockLimit() + " more exceeds the per-principal limit " + g.memlockPerPrincipal());
            }
        }
        for (int group : g.groups()) groups.put(group, id);
        reserved.put(id, new Reservation(uid, List.copyOf(g.groups()), count, Math.max(0, g.memlockLimit()), true));
    }

    synchronized void cancel(String id) {
        Reservation r = reserved.remove(id);
        if (r == null) return; // committed and being ended: releasing is its ender's
        r.groups().forEach(gr -> groups.remove(gr, id));
        releasing.remove(id);
    }

    synchronized void commit(Held h) {
        Reservation r = reserved.remove(h.lease().id());
        if (r == null) throw new IllegalStateException("lease " + h.lease().id() + " was not reserved");
        leases.put(h.lease().id(), h);
    }

    /**
     * A GRANTED lease whose Acquire failed after the commit becomes a reservation again: its groups stay taken while the
     * undo releases them, and {@link #cancel} frees them. False when its end began meanwhile: the ender has it.
     */
    synchronized boolean uncommit(String id) {
        Held h = leases.get(id);
        if (h == null || h.lease().state() != Lease.State.GRANTED) return false;
        leases.remove(id);
        Lease l = h.lease();
        reserved.put(id, new Reservation(l.holder().uid(), l.groups(), l.allDevices().size(), Math.max(0, l.memlockLimitBytes()), true));
        return true;
    }

    /** Adds a lease taken back after a restart: its groups are taken as they were. */
    synchronized void adopt(Held h) {
        for (int g : h.lease().groups()) groups.put(g, h.lease().id());
        leases.put(h.lease().id(), h);
    }

    synchronized Optional<Held> held(String id) {
        return Optional.ofNullable(leases.get(id));
    }

    /** Moves a live lease to ACTIVE (its fds were collected). */
    synchronized Optional<Held> activate(String id) {
        Held h = leases.get(id);
        if (h == null || h.lease().state() != Lease.State.GRANTED) return Optional.empty();
        Held a = h.with(h.lease().withState(Lease.State.ACTIVE));
        leases.put(id, a);
        return Optional.of(a);
    }

    /** A lease moving to ENDING, and whether its fds had been collected (ACTIVE) when it did. */
    record Ending(Held held, boolean handedOver) {
    }

    /** GRANTED or ACTIVE → ENDING; empty when the lease is unknown or already ending. */
    synchronized Optional<Ending> beginEnd(String id, String reason) {
        Held h = leases.get(id);
        if (h == null || !h.lease().live()) return Optional.empty();
        Held e = h.with(h.lease().ending(reason));
        leases.put(id, e);
        return Optional.of(new Ending(e, h.lease().state() == Lease.State.ACTIVE));
    }

    synchronized Lease update(String id, java.util.function.UnaryOperator<Lease> change) {
        Held h = leases.get(id);
        Held n = h.with(change.apply(h.lease()));
        leases.put(id, n);
        return n.lease();
    }

    /** ENDING or STUCK → ENDED: its groups are free again. A holder that still has memory locked stays counted. */
    synchronized Lease finish(String id, String reason) {
        Held h = leases.remove(id);
        releasing.remove(id);
        for (int g : h.lease().groups()) groups.remove(g, id);
        Lease done = h.lease().ended(reason);
        ended.addLast(done);
        if (ended.size() > ENDED_KEPT) ended.removeFirst();
        int pid = h.lease().holder().pid();
        if (h.startTime() >= 0 && memlock.usage(pid).map(u -> u.vmLckBytes() + u.vmPinBytes() > 0).orElse(false)) {
            residue.put(pid, new Residue(pid, h.startTime(), h.lease().holder().uid()));
        }
        return done;
    }

    synchronized boolean groupTaken(int group) {
        return groups.containsKey(group);
    }

    /**
     * Whether a bind or release by anyone but the lease's own ender must keep off {@code group}: taken, and not in
     * the last step of its lease's end (the ender releasing it).
     */
    synchronized boolean groupInUse(int group) {
        String id = groups.get(group);
        return id != null && !releasing.contains(id);
    }

    /** The ender (or a failed Acquire's undo) is about to release the lease's groups: the binding's in-use check lets it. */
    synchronized void releasing(String id) {
        releasing.add(id);
    }

    /** STUCK, if {@code id} is still being released (its groups' unbind has not returned); empty once it ended. */
    synchronized Optional<Lease> stuckWhileReleasing(String id, List<String> holders) {
        Held h = leases.get(id);
        if (h == null || !releasing.contains(id)) return Optional.empty();
        Held n = h.with(h.lease().stuck(holders));
        leases.put(id, n);
        return Optional.of(n.lease());
    }

    synchronized Optional<Lease> get(String id) {
        Held h = leases.get(id);
        if (h != null) return Optional.of(h.lease());
        for (Lease l : ended) if (l.id().equals(id)) return Optional.of(l);
        return Optional.empty();
    }

    synchronized List<Lease> active() {
        return leases.values().stream().map(Held::lease).toList();
    }

    synchronized List<Held> all() {
        return List.copyOf(leases.values());
    }

    synchronized List<Lease> recentlyEnded() {
        return List.copyOf(ended);
    }

    private int devicesOf(int uid) {
        int n = 0;
        for (Held h : leases.values()) if (h.lease().holder().uid() == uid) n += h.lease().allDevices().size();
        for (Reservation r : reserved.values()) if (r.uid() == uid) n += r.devices();
        return n;
    }

    private int unredeemed(int uid) {
        int n = 0;
        for (Held h : leases.values()) if (h.lease().holder().uid() == uid && h.lease().state() == Lease.State.GRANTED) n++;
        for (Reservation r : reserved.values()) if (r.uid() == uid) n++;
        return n;
    }

    /**
     * What a uid has of locked memory: per lease the larger of its limit and what its process has locked or pinned
     * (VmLck + VmPin), plus what processes whose leases ended still hold locked. Limits alone would let
     * acquire → mlock → release, again and again, lock any amount.
     */
    private long memlockOf(int uid, Map<Integer, Long> lockedByPid) {
        long use = 0;
        for (Held h : leases.values()) {
            if (h.lease().holder().uid() != uid) continue;
            // A lease committed since the read counts its limit, as a lease whose process locked less does.
            use += Math.max(Math.max(0, h.lease().memlockLimitBytes()), lockedByPid.getOrDefault(h.lease().holder().pid(), 0L));
        }
        for (Reservation r : reserved.values()) if (r.uid() == uid) use += r.memlock();
        for (var it = residue.values().iterator(); it.hasNext(); ) {
            Residue r = it.next();
            if (procs.startTime(r.pid()).orElse(-1L) != r.startTime()) {
                it.remove(); // exited: its locked memory went with it
                continue;
            }
            if (r.uid() != uid || leases.values().stream().anyMatch(h -> h.lease().holder().pid() == r.pid())) continue;
            use += memlock.usage(r.pid()).map(u -> u.vmLckBytes() + u.vmPinBytes()).orElse(0L);
        }
        return use;
    }

    /**
     * VmLck + VmPin of each process holding one of {@code uid}'s leases, read once per process and outside the lock:
     * reading /proc under it would make every Acquire wait for every other's reads.
     */
    private Map<Integer, Long> lockedByHolders(int uid) {
        List<Integer> pids;
        synchronized (this) {
            pids = leases.values().stream().map(h -> h.lease().holder()).filter(c -> c.uid() == uid).map(Caller::pid).distinct().toList();
        }
        Map<Integer, Long> locked = new HashMap<>();
        for (int pid : pids) memlock.usage(pid).ifPresent(u -> locked.put(pid, u.vmLckBytes() + u.vmPinBytes()));
        return locked;
    }

    /** Polls until {@code id} is ENDED (or unknown): true if it is within {@code max}. */
    boolean awaitEnded(String id, java.time.Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline) {
            if (get(id).map(l -> l.state() == Lease.State.ENDED).orElse(true)) return true;
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }
}
