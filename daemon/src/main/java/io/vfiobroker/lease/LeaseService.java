package io.vfiobroker.lease;

import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.policy.LeasePolicy;
import io.vfiobroker.policy.PolicyService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Leases, from Acquire to their end; this class wires the parts that each do one job. {@link GrantDecider} decides a
 * grant, {@link LeaseSetup} carries it out (bind, IOMMU domain, RLIMIT_MEMLOCK), {@link LeaseRegistry} keeps the leases
 * and their states, {@link Tickets} the one-time tickets, {@link Redeemer} hands the fds over once, {@link LeaseEnder}
 * ends leases off every lock, {@link WithdrawnGrants} and {@link LeaseAdoption} decide which leases a reload or a
 * restart takes back.
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

    private final PolicyService policy;
    private final Memlock memlock;
    private final AuditLog audit;
    private final GrantDecider decider;
    private final Holders procs = new Holders();
    private final LeaseRegistry registry;
    private final Tickets tickets;
    private final LeaseEnder ender;
    private final LeaseSetup setup;
    private final Redeemer redeemer;
    private volatile AllocationGate allocations = AllocationGate.NONE;
    private final ProcessWatch watch;
    private final LeaseChanges changes = new LeaseChanges();
    private volatile java.util.function.IntConsumer acquireGate = uid -> { };

    public LeaseService(SysfsHost host, InventoryScanner scanner, BindingService binding, PolicyService policy, DomainOpener domains,
                        Memlock memlock, AuditLog audit, Duration ticketTtl) {
        this.policy = policy;
        this.memlock = memlock;
        this.audit = audit;
        this.decider = new GrantDecider(scanner, policy, domains, audit, binding::changes);
        this.registry = new LeaseRegistry(memlock, procs, MAX_UNREDEEMED_PER_UID);
        this.tickets = new Tickets(ticketTtl, id -> end(id, "ticket expired before it was redeemed"));
        this.setup = new LeaseSetup(binding, domains, memlock, procs);
        this.ender = new LeaseEnder(registry, procs, binding, domains, memlock, audit, host, () -> leasePolicy().revokeGrace(), changes);
        this.watch = new ProcessWatch(id -> end(id, "client process exited"));
        this.redeemer = new Redeemer(tickets, registry, audit, changes, this::end);
        binding.setGroupInUse(registry::groupInUse);
        policy.addListener(status -> WithdrawnGrants.check(policy, registry.all(), this::revoke));
    }

    private LeasePolicy leasePolicy() {
        return policy.current().leases();
    }

    // ---- restart ----------------------------------------------------------------------------------------------

    /**
     * Keeps the leases in {@code store} from now on, after taking up those a previous daemon left there
     * ({@link LeaseAdoption}). Returns a line per stored lease.
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
        Map<String, String> toEnd = LeaseAdoption.adopt(stored, procs, registry, watch, audit, report);
        changes.persistTo(store);
        store.write(registry.all().stream().map(LeaseStore.Stored::of).toList());
        toEnd.forEach((id, why) -> registry.beginEnd(id, why).ifPresent(e -> ender.end(e.held(), why, e.handedOver())));
        for (String r : report) log.info("event=lease-store-reconciled detail=\"{}\"", r);
        audit.sync();
        return report;
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
        changes.addListener(l);
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
     * Grants {@code addresses} to {@code caller}. {@code backendWanted} is LEGACY, IOMMUFD or null (policy and kernel
     * choose); {@code memlockWanted} 0 takes the policy's per-lease limit.
     */
    public Map.Entry<Lease, String> acquire(Caller caller, List<String> addresses, Backend backendWanted, long memlockWanted) {
        return acquire(caller, null, addresses, backendWanted, memlockWanted);
    }

    /**
     * As above, under a broker-mode allocation token when {@code allocation} is not null: only its devices (all of
     * them when none are listed), and policy decides for the allocation's Kubernetes resource, never for the caller's uid.
     */
    public Map.Entry<Lease, String> acquire(Caller caller, String allocation, List<String> addresses, Backend backendWanted, long memlockWanted) {
        acquireGate.accept(caller.uid());
        try {
            AllocationGate.Allocation alloc = allocation == null ? null : allocations.claimable(allocation);
            GrantDecider.Grant g = decider.decide(caller, Principals.of(caller, alloc), alloc, addresses, backendWanted, memlockWanted);
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

    /** Binds, opens and limits outside every lock (the groups are reserved), then commits; undoes it all if a step fails. */
    private Map.Entry<Lease, String> grant(String id, GrantDecider.Grant g) {
        Caller caller = g.caller();
        LeaseSetup.Done done = null;
        boolean committed = false;
        try {
            done = setup.apply(g, () -> registry.releasing(id));
            Lease lease = Lease.granted(id, caller, g.leased(), g.leasedMembers(), g.backend(), g.unsafeInterrupts(), g.rule(), g.memlockLimit());
            LeaseRegistry.Held h = new LeaseRegistry.Held(lease, done.domain(), done.memlockBefore(), g.keepBound(), done.startTime(),
                    g.principal(), false);
            String ticket = tickets.issue(id);
            registry.commit(h);
            committed = true;
            watch.watch(id, caller.pid());
            // pidfd_open took the pid after the start time was read: if that process died meanwhile the watch may hold a
            // later one, so the lease ends now rather than following a stranger.
            boolean gone = procs.startTime(caller.pid()).orElse(ProcessIdentity.GONE) != done.startTime();
            changes.added(LeaseStore.Stored.of(h));
            if (g.allocation() != null) {
                allocations.claim(g.allocation().token(), id);
                // An end that began after the commit freed the allocation before this claim: free it again.
                if (registry.get(id).map(l -> l.state() != Lease.State.GRANTED).orElse(true)) allocations.leaseEnded(id);
            }
            auditGranted(lease, g);
            changes.changed(lease);
            if (gone) end(id, "client process exited");
            return Map.entry(lease, ticket);
        } catch (RuntimeException e) {
            tickets.dropFor(id);
            allocations.leaseEnded(id); // also when an end that began after the commit ran before the claim
            // A lease whose end began after its commit (its process exited, a revoke) is its ender's to restore.
            if (!committed || registry.uncommit(id)) abandon(id, caller, done);
            audit.append("acquire-failed", "uid", caller.uid(), "pid", caller.pid(), "devices",
                    g.devices().stream().map(d -> d.address().toString()).toList(), "error", e.getMessage());
            throw LeaseSetup.translate(e);
        }
    }

    /** Undoes a failed grant: nothing of it stays registered, watched, bound or stored as active. */
    private void abandon(String id, Caller caller, LeaseSetup.Done done) {
        watch.unwatch(id);
        // The groups stay reserved while the undo releases what this grant bound: nobody else takes them meanwhile.
        registry.releasing(id);
        if (done != null) setup.undo(caller, done);
        changes.abandoned(id);
    }

    private void auditGranted(Lease lease, GrantDecider.Grant g) {
        Caller caller = g.caller();
        List<Object> kv = new ArrayList<>(java.util.Arrays.asList("lease", lease.id(), "uid", caller.uid(), "pid", caller.pid(), "devices",
                lease.devices().stream().map(x -> x.address().toString()).toList(), "groupMembers",
                lease.groupMembers().stream().map(x -> x.address().toString()).toList(), "backend", g.backend().wireName(), "rule", g.rule(),
                "memlock", g.memlockLimit(), "unsafeInterrupts", g.unsafeInterrupts()));
        if (g.allocation() != null) kv.addAll(List.of("kubernetesResource", g.allocation().resource()));
        audit.append("lease-granted", kv.toArray());
        log.info("event=lease-granted lease={} uid={} pid={} devices={} members={} backend={} unsafe-interrupts={}", lease.id(), caller.uid(),
                caller.pid(), lease.devices().size(), lease.groupMembers().size(), g.backend().wireName(), g.unsafeInterrupts());
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

    /**
     * Redeems a ticket presented on the fd socket by {@code presenter} (from SO_PEERCRED there). One use only. The
     * fds come as duplicates taken while the lease is known to be live: the caller sends and closes them.
     */
    public Handover redeem(String ticket, Caller presenter) {
        return redeemer.redeem(ticket, presenter);
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
        return LeaseEnder.await(f, RELEASE_WAIT).orElseGet(() -> registry.get(leaseId).orElse(l));
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
        changes.changed(h.lease());
        return ender.end(h, reason, e.handedOver());
    }

    /** Waits until lease {@code id} is ENDED (tests, the CLI): true if it is by then. */
    public boolean awaitEnded(String id, Duration max) {
        return registry.awaitEnded(id, max);
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
        tickets.close();
        ender.close();
        audit.sync();
    }

    public static Collection<String> addresses(Lease l) {
        return l.devices().stream().map(d -> d.address().toString()).toList();
    }
}
