package io.vfiobroker.lease;

import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingException;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainException;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Rlimits;
import io.vfiobroker.policy.Decision;
import io.vfiobroker.policy.LeasePolicy;
import io.vfiobroker.policy.LoadStatus;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.policy.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Leases, from Acquire to their end. {@link GrantDecider} decides, {@link LeaseRegistry} keeps the leases and their
 * states, {@link Tickets} the one-time tickets, {@link LeaseEnder} ends them off every lock. This class wires them:
 * bind the groups, open the IOMMU domain, set the client's RLIMIT_MEMLOCK, hand the fds over once, and take them back.
 */
public final class LeaseService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LeaseService.class);
    /** How long a holder's own Release waits for its lease to be ENDED before it answers ENDING. */
    private static final Duration RELEASE_WAIT = Duration.ofSeconds(2);
    private static final int MAX_UNREDEEMED_PER_UID = 16;

    /**
     * A redeemed ticket: what goes over the fd socket. Its fds are duplicates taken under the lease lock, owned by the
     * handover: a Release racing with the send closes the lease's fds, never these. Close it after sending.
     */
    public record Handover(Lease lease, List<HandoverFd> fds) implements AutoCloseable {
        @Override
        public void close() {
            for (HandoverFd f : fds) f.fd().close();
        }
    }

    private final SysfsHost host;
    private final BindingService binding;
    private final PolicyService policy;
    private final DomainOpener domains;
    private final Memlock memlock;
    private final AuditLog audit;
    private final GrantDecider decider;
    private final Holders procs = new Holders();
    private final LeaseRegistry registry;
    private final Tickets tickets;
    private final LeaseEnder ender;
    private volatile AllocationGate allocations = AllocationGate.NONE;
    private final ProcessWatch watch;
    private final ScheduledExecutorService timers = timers();
    private final List<Consumer<Lease>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile LeaseStore store;
    private volatile java.util.function.IntConsumer acquireGate = uid -> { };

    public LeaseService(SysfsHost host, InventoryScanner scanner, BindingService binding, PolicyService policy, DomainOpener domains,
                        Memlock memlock, AuditLog audit, Duration ticketTtl) {
        this.host = host;
        this.binding = binding;
        this.policy = policy;
        this.domains = domains;
        this.memlock = memlock;
        this.audit = audit;
        this.decider = new GrantDecider(scanner, policy, domains, audit);
        this.registry = new LeaseRegistry(memlock, procs, MAX_UNREDEEMED_PER_UID);
        this.tickets = new Tickets(ticketTtl);
        this.ender = new LeaseEnder(registry, procs, binding, domains, memlock, audit, host.root(), () -> leasePolicy().revokeGrace(),
                this::notifyListeners, id -> {
                    LeaseStore s = store;
                    if (s != null) s.ended(id);
                });
        this.watch = new ProcessWatch(id -> end(id, "client process exited"));
        // One sweep for all tickets rather than a timer each: redeem is checked against the expiry exactly, and an
        // unredeemed lease ends at most a sweep period after its ticket expired.
        long sweepMs = Math.max(10, Math.min(1000, ticketTtl.toMillis() / 4));
        timers.scheduleWithFixedDelay(this::expireTickets, sweepMs, sweepMs, TimeUnit.MILLISECONDS);
        binding.setGroupInUse(registry::groupInUse);
        policy.addListener(this::policyChanged);
    }

    private static ScheduledExecutorService timers() {
        java.util.concurrent.ScheduledThreadPoolExecutor t = new java.util.concurrent.ScheduledThreadPoolExecutor(1, r -> {
            Thread th = new Thread(r, "lease-timers");
            th.setDaemon(true);
            return th;
        });
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    private LeasePolicy leasePolicy() {
        return policy.current().leases();
    }

    // ---- restart ----------------------------------------------------------------------------------------------

    /**
     * Keeps the leases in {@code store} from now on, after taking back those a previous daemon left: a client still
     * running (same pid and start time) whose fds were collected is watched again; a lease whose ticket was never
     * redeemed, or whose client went meanwhile, is ended (its devices reset and restored). Returns a line per stored lease.
     */
    public List<String> persistTo(LeaseStore store) {
        List<String> report = new ArrayList<>();
        List<LeaseStore.Stored> stored;
        try {
            stored = store.read();
        } catch (IllegalStateException e) {
            report.add(e.getMessage() + "; its devices stay bound ('vfio-broker status' lists them)");
            stored = List.of();
        }
        List<LeaseRegistry.Held> toEnd = new ArrayList<>();
        List<String> reasons = new ArrayList<>();
        for (LeaseStore.Stored s : stored) {
            boolean alive = procs.startTime(s.pid()).map(t -> t == s.startTime()).orElse(false);
            Caller holder = new Caller(s.pid(), s.uid(), s.gid());
            Lease lease = new Lease(s.id(), holder, s.devices(), s.members(), s.backend(), s.unsafeInterrupts(), s.rule(), s.memlockLimitBytes(),
                    Lease.State.ACTIVE, java.time.Instant.parse(s.created()), null, null, List.of());
            Rlimits.Rlimit before = s.memlockBeforeCur() == null ? null : new Rlimits.Rlimit(s.memlockBeforeCur(), s.memlockBeforeMax());
            LeaseRegistry.Held h = new LeaseRegistry.Held(lease, DeviceDomain.adopted(s.backend()), before, s.keepBound(), s.startTime(),
                    Principal.of(s.uid(), s.gid()), true);
            registry.adopt(h);
            if (alive && s.collected()) {
                watch.watch(s.id(), s.pid());
                audit.append("lease-adopted", "lease", s.id(), "uid", s.uid(), "pid", s.pid());
                report.add("lease " + s.id() + " of pid " + s.pid() + " taken back after a daemon restart");
            } else {
                String why = !s.collected() ? "its ticket was not redeemed before the daemon restarted" : "client process exited while the daemon was down";
                toEnd.add(h);
                reasons.add(why);
                report.add("lease " + s.id() + " of pid " + s.pid() + " ended: " + why);
            }
        }
        this.store = store;
        store.write(registry.all().stream().map(this::stored).toList());
        for (int i = 0; i < toEnd.size(); i++) {
            String id = toEnd.get(i).lease().id();
            registry.beginEnd(id, reasons.get(i)).ifPresent(e -> ender.end(e.held(), e.held().lease().endReason(), e.handedOver()));
        }
        for (String r : report) log.info("event=lease-store-reconciled detail=\"{}\"", r);
        audit.sync();
        return report;
    }

    private LeaseStore.Stored stored(LeaseRegistry.Held h) {
        Lease l = h.lease();
        Rlimits.Rlimit b = h.memlockBefore();
        return new LeaseStore.Stored(l.id(), l.holder().pid(), h.startTime(), l.holder().uid(), l.holder().gid(), l.devices(), l.backend(),
                l.unsafeInterrupts(), l.rule(), l.memlockLimitBytes(), h.keepBound(), l.created().toString(), l.groupMembers(),
                b == null ? null : b.soft(), b == null ? null : b.hard(), l.state() != Lease.State.GRANTED);
    }

    /**
     * Runs first on every Acquire with the caller's uid, before anything is read or audited: the per-uid rate limit,
     * which throws to refuse.
     */
    public void setAcquireGate(java.util.function.IntConsumer gate) {
        this.acquireGate = gate;
    }

    /** Called with every lease change (granted, active, ending, stuck, ended): events, metrics, the console. */
    public void addListener(Consumer<Lease> l) {
        listeners.add(l);
    }

    public Duration ticketTtl() {
        return tickets.ttl();
    }

    /** Whether a lease (in any state before ENDED) or an Acquire in progress takes {@code group}. */
    public boolean groupInUse(int group) {
        return registry.groupTaken(group);
    }

    // ---- acquire ----------------------------------------------------------------------------------------------

    /**
     * Grants {@code addresses} to {@code caller}. {@code backendWanted} is "legacy", "iommufd" or null (policy and kernel
     * choose); {@code memlockWanted} 0 takes the policy's per-lease limit.
     */
    public Map.Entry<Lease, String> acquire(Caller caller, List<String> addresses, String backendWanted, long memlockWanted) {
        return acquire(caller, null, addresses, backendWanted, memlockWanted);
    }

    /**
     * As above, under a broker-mode allocation token when {@code allocation} is not null: only its devices (all of
     * them when none are listed), and policy decides for the allocation's Kubernetes resource, never for the caller's uid.
     */
    public Map.Entry<Lease, String> acquire(Caller caller, String allocation, List<String> addresses, String backendWanted, long memlockWanted) {
        acquireGate.accept(caller.uid());
        try {
            AllocationGate.Allocation alloc = allocation == null ? null : allocations.claimable(allocation);
            GrantDecider.Grant g = decider.decide(caller, principal(caller, alloc), alloc, addresses, backendWanted, memlockWanted);
            String id = UUID.randomUUID().toString();
            registry.reserve(id, g);
            try {
                return grant(id, g);
            } catch (RuntimeException e) {
                registry.cancel(id);
                throw e;
            }
        } finally {
            audit.sync(); // concurrent callers share one fsync
        }
    }

    /** Binds, opens and limits outside every lock (the groups are reserved); undoes what it did if a step fails. */
    private Map.Entry<Lease, String> grant(String id, GrantDecider.Grant g) {
        Caller caller = g.caller();
        List<Integer> boundHere = new ArrayList<>();
        DeviceDomain domain = null;
        Rlimits.Rlimit before = null;
        try {
            long startTime = procs.startTime(caller.pid()).orElse(ProcessIdentity.GONE);
            // The process that connected, not a later one with its pid: the start time pinned at connect must still match.
            if (startTime == ProcessIdentity.GONE || caller.startTime() == ProcessIdentity.GONE
                    || (caller.startTime() >= 0 && caller.startTime() != startTime)) {
                throw new LeaseException(LeaseException.Kind.PRECONDITION, "client process " + caller.pid() + " exited before its Acquire was served");
            }
            for (Device d : g.devices()) {
                if (g.readyGroups().contains(d.iommuGroup()) || boundHere.contains(d.iommuGroup())) continue;
                boolean ours = binding.owns(d.iommuGroup()) || d.boundTo(BindingService.VFIO_PCI);
                binding.bind(d.address(), false);
                if (!ours) boundHere.add(d.iommuGroup());
            }
            // A legacy lease's group members are opened too: the client could open them through the group fd, and the
            // daemon needs their device fds to reset them at the end.
            List<DomainOpener.Member> members = java.util.stream.Stream.concat(g.devices().stream(), g.members().stream())
                    .map(d -> new DomainOpener.Member(d.address(), d.iommuGroup())).toList();
            domain = domains.open(members, g.backend());
            if (g.memlockLimit() >= 0) before = limitMemlock(caller, startTime, g.memlockLimit());
            Lease lease = Lease.granted(id, caller, g.leased(), g.leasedMembers(), g.backend(), g.unsafeInterrupts(), g.rule(), g.memlockLimit());
            LeaseRegistry.Held h = new LeaseRegistry.Held(lease, domain, before, g.keepBound(), startTime, g.principal(), false);
            String ticket = tickets.issue(id);
            registry.commit(h);
            watch.watch(id, caller.pid());
            // pidfd_open took the pid after the start time was read: if that process died meanwhile the watch may hold a
            // later one, so the lease ends now rather than following a stranger.
            boolean gone = procs.startTime(caller.pid()).orElse(ProcessIdentity.GONE) != startTime;
            LeaseStore s = store;
            if (s != null) s.added(stored(h));
            if (g.allocation() != null) allocations.claim(g.allocation().token(), id);
            List<Object> kv = new ArrayList<>(java.util.Arrays.asList("lease", id, "uid", caller.uid(), "pid", caller.pid(), "devices",
                    lease.devices().stream().map(x -> x.address().toString()).toList(), "groupMembers",
                    lease.groupMembers().stream().map(x -> x.address().toString()).toList(), "backend", g.backend(), "rule", g.rule(),
                    "memlock", g.memlockLimit(), "unsafeInterrupts", g.unsafeInterrupts()));
            if (g.allocation() != null) kv.addAll(List.of("kubernetesResource", g.allocation().resource()));
            audit.append("lease-granted", kv.toArray());
            log.info("event=lease-granted lease={} uid={} pid={} devices={} members={} backend={} unsafe-interrupts={}", id, caller.uid(),
                    caller.pid(), lease.devices().size(), lease.groupMembers().size(), g.backend(), g.unsafeInterrupts());
            notifyListeners(lease);
            if (gone) end(id, "client process exited");
            return Map.entry(lease, ticket);
        } catch (RuntimeException e) {
            tickets.dropFor(id);
            if (domain != null) domain.close();
            if (before != null) restoreMemlock(caller.pid(), before);
            for (int grp : boundHere) {
                try {
                    binding.release(grp, true, false);
                } catch (RuntimeException undo) {
                    log.warn("event=acquire-undo-failed group={} error=\"{}\"", grp, undo.getMessage());
                }
            }
            audit.append("acquire-failed", "uid", caller.uid(), "pid", caller.pid(), "devices",
                    g.devices().stream().map(d -> d.address().toString()).toList(), "error", e.getMessage());
            throw translate(e);
        }
    }

    /**
     * prlimit on the client, once its pid is checked to still be the caller: the start time read before the bind. A pid reused meanwhile belongs to another process, which must not get the lease's limit.
     */
    private Rlimits.Rlimit limitMemlock(Caller caller, long startTime, long limit) {
        if (procs.startTime(caller.pid()).orElse(-2L) != startTime) {
            throw new LeaseException(LeaseException.Kind.PRECONDITION, "client process " + caller.pid() + " exited during Acquire");
        }
        return memlock.limit(caller.pid(), limit);
    }

    private RuntimeException translate(RuntimeException e) {
        if (e instanceof LeaseException) return e;
        if (e instanceof BindingException b) {
            return new LeaseException(b.refused() ? LeaseException.Kind.PRECONDITION : LeaseException.Kind.KERNEL, b.getMessage(), null, b);
        }
        if (e instanceof DomainException d) return new LeaseException(LeaseException.Kind.KERNEL, d.getMessage(), null, d);
        if (e instanceof NativeException n) return new LeaseException(LeaseException.Kind.KERNEL, n.getMessage(), null, n);
        if (e instanceof IllegalStateException s) return new LeaseException(LeaseException.Kind.PRECONDITION, s.getMessage(), null, s);
        return e;
    }

    /**
     * Who policy judges. Under an allocation token: the allocation's Kubernetes resource, never the pod's uid (a root pod
     * is not host root). A caller in another pid or user namespace than the daemon's, without a token, matches only rules
     * that name everyone: its uid is not the host's.
     */
    private Principal principal(Caller caller, AllocationGate.Allocation alloc) {
        if (alloc != null) return new Principal(Principal.UNMAPPED, Principal.UNMAPPED, List.of(), null, alloc.resource());
        if (!io.vfiobroker.authz.Namespaces.PROC.sameAsDaemon(caller.pid())) return new Principal(Principal.UNMAPPED, Principal.UNMAPPED, List.of(), null, null);
        if (caller.groups() != null) return new Principal(caller.uid(), caller.gid(), caller.groups(), null, null);
        List<Integer> groups = new ArrayList<>();
        Memlock.processStatus(caller.pid()).ifPresent(s -> s.lines().filter(l -> l.startsWith("Groups:")).findFirst()
                .ifPresent(l -> {
                    for (String g : l.substring(7).trim().split("\\s+")) {
                        if (!g.isEmpty()) groups.add(Integer.parseInt(g));
                    }
                }));
        return new Principal(caller.uid(), caller.gid(), groups, null, null);
    }

    // ---- kubelet allocations ----------------------------------------------------------------------------------

    /** Broker-mode allocations, kept by the kubelet adapter: Acquire under a token asks them. */
    public void allocations(AllocationGate gate) {
        this.allocations = gate;
    }

    /**
     * The kubelet allocated {@code devices} of {@code resource} to another container: the leases of the allocations it
     * replaced are taken back, since the kubelet has handed the devices on.
     */
    public void allocationReplaced(String resource, List<PciAddress> devices, List<String> replacedLeases) {
        for (String lease : replacedLeases) revoke(lease, "the kubelet allocated its devices to another container");
        audit.append("allocation-registered", "kubernetesResource", resource, "devices", devices.stream().map(PciAddress::toString).toList(),
                "replacedLeases", replacedLeases);
        audit.sync();
    }

    // ---- tickets ----------------------------------------------------------------------------------------------

    private void expireTickets() {
        for (String id : tickets.expired()) {
            try {
                end(id, "ticket expired before it was redeemed");
            } catch (RuntimeException x) {
                // A failure must not cancel the sweep (a periodic task that throws never runs again).
                log.warn("event=ticket-expiry-failed lease={} error=\"{}\"", id, x.getMessage());
            }
        }
    }

    /**
     * Redeems a ticket presented on the fd socket by {@code presenter} (from SO_PEERCRED there). One use only. The
     * fds come as duplicates taken while the lease is known to be live: the caller sends and closes them.
     */
    public Handover redeem(String ticket, Caller presenter) {
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
                end(t.leaseId(), "ticket presented by uid " + presenter.uid() + ", not the lease holder");
                throw new LeaseException(LeaseException.Kind.DENIED, "this ticket belongs to another uid");
            }
            Handover handover;
            LeaseRegistry.Held active;
            synchronized (registry) {
                active = registry.activate(t.leaseId())
                        .orElseThrow(() -> new LeaseException(LeaseException.Kind.NOT_FOUND, "lease " + t.leaseId() + " has ended"));
                // Still under the registry's lock: an ending lease cannot close these fds before they are duplicated.
                handover = new Handover(active.lease(), duplicates(active.domain().fds()));
            }
            LeaseStore s = store;
            if (s != null) s.redeemed(t.leaseId());
            audit.append("fds-handed-over", "lease", t.leaseId(), "uid", presenter.uid(), "pid", presenter.pid(), "fds", handover.fds().size());
            notifyListeners(active.lease());
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

    // ---- ending -----------------------------------------------------------------------------------------------

    /**
     * Ends a lease for {@code caller}: the holder's own (waits until its devices are restored, up to a bound), or any for
     * an admin (a revocation: answers at once, with the lease ENDING).
     */
    public Lease release(String leaseId, Caller caller) {
        Lease l = registry.get(leaseId).filter(Lease::active)
                .orElseThrow(() -> new LeaseException(LeaseException.Kind.NOT_FOUND, "no active lease " + leaseId));
        boolean own = l.holder().uid() == caller.uid();
        if (!caller.isRoot() && !own) {
            throw new LeaseException(LeaseException.Kind.DENIED, "lease " + leaseId + " belongs to uid " + l.holder().uid());
        }
        if (!own) return revoke(leaseId, "revoked by admin").orElse(l);
        CompletableFuture<Lease> f = start(leaseId, "released by holder");
        if (f == null) return registry.get(leaseId).orElse(l);
        return await(f, RELEASE_WAIT).orElseGet(() -> registry.get(leaseId).orElse(l));
    }

    /**
     * Takes a lease back: the client is told (the lease turns ENDING, on its Watch stream and GetLease), gets the policy's
     * grace, and then every process holding its files is killed before the devices are reset and restored. Answers the
     * lease as it is now (ENDING), or empty when there is no such live lease.
     */
    public Optional<Lease> revoke(String leaseId, String reason) {
        CompletableFuture<Lease> f = start(leaseId, reason);
        return f == null ? Optional.empty() : registry.get(leaseId);
    }

    /** Ends a lease for a reason that is not a caller's request (process exit, expiry, hot removal); does not wait. */
    public Optional<Lease> end(String leaseId, String reason) {
        CompletableFuture<Lease> f = start(leaseId, reason);
        return f == null ? Optional.empty() : registry.get(leaseId);
    }

    /** ENDING now, ENDED when the returned future completes; null when the lease is unknown or already ending. */
    private CompletableFuture<Lease> start(String leaseId, String reason) {
        LeaseRegistry.Ending e = registry.beginEnd(leaseId, reason).orElse(null);
        if (e == null) return null;
        LeaseRegistry.Held h = e.held();
        watch.unwatch(leaseId);
        tickets.dropFor(leaseId);
        allocations.leaseEnded(leaseId);
        audit.append("lease-ending", "lease", leaseId, "uid", h.lease().holder().uid(), "reason", reason,
                "graceSeconds", leasePolicy().revokeGrace().toSeconds());
        audit.sync();
        notifyListeners(h.lease());
        return ender.end(h, reason, e.handedOver());
    }

    private static Optional<Lease> await(CompletableFuture<Lease> f, Duration max) {
        try {
            return Optional.of(f.get(max.toMillis(), TimeUnit.MILLISECONDS));
        } catch (TimeoutException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        } catch (ExecutionException e) {
            return Optional.empty();
        }
    }

    /** Waits until lease {@code id} is ENDED (tests, the CLI): true if it is by then. */
    public boolean awaitEnded(String id, Duration max) {
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline) {
            if (registry.get(id).map(l -> l.state() == Lease.State.ENDED).orElse(true)) return true;
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    /**
     * After a reload: a live lease the policy no longer grants (for any device it reaches) is taken back, unless the
     * policy says to keep such leases until they end.
     */
    private void policyChanged(LoadStatus status) {
        if (leasePolicy().onWithdrawnGrant() == LeasePolicy.OnWithdrawnGrant.KEEP) return;
        for (LeaseRegistry.Held h : registry.all()) {
            if (!h.lease().live()) continue;
            for (Lease.Device d : h.lease().allDevices()) {
                Decision decision;
                try {
                    decision = policy.decide(h.principal(), d.address());
                } catch (RuntimeException e) {
                    continue; // device gone: hot removal ends it
                }
                if (decision instanceof Decision.Refused r) {
                    revoke(h.lease().id(), "grant withdrawn by policy reload: " + r.reason());
                    break;
                }
            }
        }
    }

    private void restoreMemlock(int pid, Rlimits.Rlimit before) {
        try {
            memlock.restore(pid, before);
        } catch (NativeException e) {
            // ESRCH: the process is gone, and its limit with it
        }
    }

    private void notifyListeners(Lease l) {
        for (Consumer<Lease> c : listeners) {
            try {
                c.accept(l);
            } catch (RuntimeException e) {
                log.warn("event=lease-listener-failed error=\"{}\"", e.getMessage());
            }
        }
    }

    // ---- queries ----------------------------------------------------------------------------------------------

    public Optional<Lease> get(String id) {
        return registry.get(id);
    }

    /** Every lease not yet ENDED. */
    public List<Lease> active() {
        return registry.active();
    }

    public List<Lease> recentlyEnded() {
        return registry.recentlyEnded();
    }

    public List<Lease> visibleTo(Caller caller) {
        return registry.active().stream().filter(l -> caller.isRoot() || l.holder().uid() == caller.uid()).toList();
    }

    public Memlock memlock() {
        return memlock;
    }

    /**
     * Stops watching without ending leases: clients keep their fds across a daemon restart, and unbinding a device
     * a client still holds would block in the kernel until the client lets go.
     */
    @Override
    public void close() {
        for (LeaseRegistry.Held h : registry.all()) {
            audit.append("lease-orphaned", "lease", h.lease().id(), "uid", h.lease().holder().uid(), "reason", "daemon stopped");
            h.domain().close();
        }
        watch.close();
        timers.shutdownNow();
        ender.close();
        audit.sync();
    }

    public static Collection<String> addresses(Lease l) {
        return l.devices().stream().map(d -> d.address().toString()).toList();
    }
}
