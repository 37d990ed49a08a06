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
import io.vfiobroker.nativeshim.Rlimits;
import io.vfiobroker.policy.Backend;
import io.vfiobroker.policy.Decision;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.policy.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Leases: policy decides, binding makes the groups viable, the domain opener sets up the IOMMU domain, the
 * client's RLIMIT_MEMLOCK is set, and a one-time ticket lets the same uid collect the fds on the fd socket.
 * A lease ends on Release, when the client process exits (pidfd), when its ticket expires unredeemed, or when
 * an admin revokes it; then the devices are reset, the daemon's fds closed and the groups restored by policy.
 */
public final class LeaseService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LeaseService.class);
    private static final int MAX_DEVICES_PER_ACQUIRE = 16;

    /** A redeemed ticket: what goes over the fd socket. */
    public record Handover(Lease lease, List<HandoverFd> fds) implements AutoCloseable {
        /** Called by the fd socket after sendmsg. */
        @Override
        public void close() {
        }
    }

    private record Held(Lease lease, DeviceDomain domain, Rlimits.Rlimit memlockBefore, boolean keepBound) {
        Held with(Lease l) {
            return new Held(l, domain, memlockBefore, keepBound);
        }
    }

    private record Ticket(String leaseId, Instant expires) {
    }

    private final SysfsHost host;
    private final InventoryScanner scanner;
    private final BindingService binding;
    private final PolicyService policy;
    private final DomainOpener domains;
    private final Memlock memlock;
    private final AuditLog audit;
    private final Duration ticketTtl;
    private final Map<String, Held> leases = new LinkedHashMap<>();
    private final List<Lease> ended = new ArrayList<>();
    private final Map<String, Ticket> tickets = new ConcurrentHashMap<>();
    private final Allocations allocations = new Allocations();
    private LeaseStore store;
    private final Map<String, Long> startTimes = new java.util.HashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final ProcessWatch watch;
    private final ScheduledExecutorService timers = timers();
    private final List<Consumer<Lease>> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    public LeaseService(SysfsHost host, InventoryScanner scanner, BindingService binding, PolicyService policy, DomainOpener domains,
                        Memlock memlock, AuditLog audit, Duration ticketTtl) {
        this.host = host;
        this.scanner = scanner;
        this.binding = binding;
        this.policy = policy;
        this.domains = domains;
        this.memlock = memlock;
        this.audit = audit;
        this.ticketTtl = ticketTtl;
        this.watch = new ProcessWatch(id -> end(id, "client process exited"));
        // One sweep for all tickets rather than a timer each: redeem is checked against the expiry exactly, and an
        // unredeemed lease ends at most a sweep period after its ticket expired.
        long sweepMs = Math.max(10, Math.min(1000, ticketTtl.toMillis() / 4));
        timers.scheduleWithFixedDelay(this::expireTickets, sweepMs, sweepMs, TimeUnit.MILLISECONDS);
        binding.setGroupInUse(this::groupInUse);
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

    /**
     * Keeps the active leases in {@code store} from now on, after taking back those a previous daemon left: a
     * client still running (same pid and start time) is watched again — it still holds its fds — and the devices
     * of one that went meanwhile are restored. Returns a line per stored lease.
     */
    public List<String> persistTo(LeaseStore store) {
        return synced(() -> persistToLocked(store));
    }

    private synchronized List<String> persistToLocked(LeaseStore store) {
        List<String> report = new ArrayList<>();
        List<LeaseStore.Stored> stored;
        try {
            stored = store.read();
        } catch (IllegalStateException e) {
            report.add(e.getMessage() + "; its devices stay bound ('vfio-broker status' lists them)");
            stored = List.of();
        }
        for (LeaseStore.Stored s : stored) {
            boolean alive = LeaseStore.startTime(s.pid()).map(t -> t == s.startTime()).orElse(false);
            Lease lease = new Lease(s.id(), new Caller(s.pid(), s.uid(), s.gid()), s.devices(), s.backend(), s.unsafeInterrupts(), s.rule(),
                    s.memlockLimitBytes(), Lease.State.ACTIVE, Instant.parse(s.created()), null, null);
            if (alive) {
                leases.put(s.id(), new Held(lease, DeviceDomain.adopted(s.backend()), null, s.keepBound()));
                startTimes.put(s.id(), s.startTime());
                watch.watch(s.id(), s.pid());
                audit.append("lease-adopted", "lease", s.id(), "uid", s.uid(), "pid", s.pid());
                report.add("lease " + s.id() + " of pid " + s.pid() + " taken back after a daemon restart");
            } else {
                leases.put(s.id(), new Held(lease, DeviceDomain.adopted(s.backend()), null, s.keepBound()));
                endLocked(s.id(), "client process exited while the daemon was down");
                report.add("lease " + s.id() + " of pid " + s.pid() + " ended: the client went while the daemon was down");
            }
        }
        this.store = store;
        persist();
        for (String r : report) log.info("event=lease-store-reconciled detail=\"{}\"", r);
        return report;
    }

    /** Rewrites the store with every active lease (on taking it over). */
    private void persist() {
        if (store == null) return;
        store.write(leases.values().stream().map(this::stored).toList());
    }

    private LeaseStore.Stored stored(Held h) {
        Lease l = h.lease();
        return new LeaseStore.Stored(l.id(), l.holder().pid(), startTimes.getOrDefault(l.id(), -1L), l.holder().uid(), l.holder().gid(),
                l.devices(), l.backend(), l.unsafeInterrupts(), l.rule(), l.memlockLimitBytes(), h.keepBound(), l.created().toString());
    }

    /** Called with every lease change (created, active, ended): events, metrics, the console. */
    public void addListener(Consumer<Lease> l) {
        listeners.add(l);
    }

    public Duration ticketTtl() {
        return ticketTtl;
    }

    public synchronized boolean groupInUse(int group) {
        return leases.values().stream().anyMatch(h -> h.lease().devices().stream().anyMatch(d -> d.group() == group));
    }

    /**
     * Grants {@code addresses} to {@code caller}. {@code backendWanted} is "legacy", "iommufd" or null (policy and kernel
     * choose); {@code memlockWanted} 0 takes the policy's per-lease limit.
     */
    public Map.Entry<Lease, String> acquire(Caller caller, List<String> addresses, String backendWanted, long memlockWanted) {
        return acquire(caller, null, addresses, backendWanted, memlockWanted);
    }

    /**
     * As above, under a broker-mode allocation token when {@code allocation} is not null: only its devices (all of
     * them when none are listed), and policy decides for the allocation's Kubernetes resource with the caller's ids.
     */
    public Map.Entry<Lease, String> acquire(Caller caller, String allocation, List<String> addresses, String backendWanted, long memlockWanted) {
        try {
            Allocations.Allocation alloc;
            synchronized (this) {
                alloc = allocation == null ? null : allocations.claimable(allocation);
            }
            // Reading the host and deciding policy need no lock: concurrent Acquires overlap here.
            long changes = binding.changes();
            Checked checked = check(caller, alloc, addresses, backendWanted);
            synchronized (this) {
                Allocations.Allocation now = allocation == null ? null : allocations.claimable(allocation);
                // A bind or release since the read may have changed a driver or a group's viability: read again.
                if (changes != binding.changes() || !java.util.Objects.equals(now, alloc)) checked = check(caller, now, addresses, backendWanted);
                return grantLocked(caller, now, checked, backendWanted, memlockWanted);
            }
        } finally {
            audit.sync(); // outside the lock: concurrent callers share one fsync
        }
    }

    /** What Acquire learnt of the host and the policy before it takes the lease lock. */
    private record Checked(Set<PciAddress> wanted, List<Decision.Allowed> grants, List<Device> devices, Set<Integer> readyGroups) {
    }

    private Checked check(Caller caller, Allocations.Allocation alloc, List<String> addresses, String backendWanted) {
        if (alloc != null && addresses.isEmpty()) addresses = alloc.devices().stream().sorted().map(PciAddress::toString).toList();
        if (addresses.isEmpty()) throw new LeaseException(LeaseException.Kind.INVALID, "no devices requested");
        if (addresses.size() > MAX_DEVICES_PER_ACQUIRE) {
            throw new LeaseException(LeaseException.Kind.INVALID, addresses.size() + " devices requested, at most " + MAX_DEVICES_PER_ACQUIRE);
        }
        Set<PciAddress> wanted = new LinkedHashSet<>();
        for (String a : addresses) {
            try {
                if (!wanted.add(PciAddress.parse(a))) throw new LeaseException(LeaseException.Kind.INVALID, "device " + a + " requested twice");
            } catch (IllegalArgumentException e) {
                throw new LeaseException(LeaseException.Kind.INVALID, e.getMessage());
            }
        }
        if (backendWanted != null && !backendWanted.equals("legacy") && !backendWanted.equals("iommufd")) {
            throw new LeaseException(LeaseException.Kind.INVALID, "unknown backend '" + backendWanted + "': legacy or iommufd");
        }
        if (alloc != null) {
            for (PciAddress a : wanted) {
                if (!alloc.devices().contains(a)) {
                    audit.append("acquire-refused", "uid", caller.uid(), "pid", caller.pid(), "device", a, "kubernetesResource", alloc.resource(),
                            "reason", "not in the allocation");
                    throw new LeaseException(LeaseException.Kind.DENIED, a + " is not part of the " + alloc.describe());
                }
            }
        }
        Principal who = principal(caller, alloc == null ? null : alloc.resource());

        // Policy first: nothing is touched for a refused request.
        List<Decision.Allowed> grants = new ArrayList<>();
        List<Device> devices = new ArrayList<>();
        Set<Integer> readyGroups = new java.util.HashSet<>();
        for (PciAddress a : wanted) {
            var around = scanner.around(a).orElseThrow(() -> new LeaseException(LeaseException.Kind.NOT_FOUND, "no PCI device " + a + " on this host"));
            Device d = around.device(a).orElseThrow();
            // Already usable (on vfio-pci, group viable): no binding step, journal or lock needed for it.
            if (d.boundTo(BindingService.VFIO_PCI) && d.iommuGroup() != null
                    && around.group(d.iommuGroup()).map(io.vfiobroker.domain.IommuGroup::viable).orElse(false)) {
                readyGroups.add(d.iommuGroup());
            }
            Decision decision = policy.decide(who, a, around);
            if (decision instanceof Decision.Refused r) {
                audit.append("acquire-refused", "uid", caller.uid(), "pid", caller.pid(), "device", a, "rule", r.rule(), "reason", r.reason());
                throw new LeaseException(LeaseException.Kind.DENIED, r.reason(), r.rule(), null);
            }
            if (d.iommuGroup() == null) {
                throw new LeaseException(LeaseException.Kind.PRECONDITION, a + " is in no IOMMU group: the kernel has no IOMMU enabled for it");
            }
            grants.add((Decision.Allowed) decision);
            devices.add(d);
        }
        return new Checked(wanted, grants, devices, readyGroups);
    }

    private Map.Entry<Lease, String> grantLocked(Caller caller, Allocations.Allocation alloc, Checked checked, String backendWanted,
                                                 long memlockWanted) {
        Set<PciAddress> wanted = checked.wanted();
        List<Decision.Allowed> grants = checked.grants();
        List<Device> devices = checked.devices();
        Set<Integer> readyGroups = checked.readyGroups();
        Decision.Allowed first = grants.get(0);
        int held = leases.values().stream().filter(h -> h.lease().holder().uid() == caller.uid())
                .mapToInt(h -> h.lease().devices().size()).sum();
        int max = grants.stream().mapToInt(Decision.Allowed::maxDevices).filter(m -> m >= 0).min().orElse(-1);
        if (max >= 0 && held + devices.size() > max) {
            throw new LeaseException(LeaseException.Kind.EXHAUSTED, "uid " + caller.uid() + " holds " + held + " device(s); rule '" + first.rule()
                    + "' allows at most " + max);
        }
        for (Device d : devices) {
            for (Held h : leases.values()) {
                for (Lease.Device ld : h.lease().devices()) {
                    if (ld.group() == d.iommuGroup()) {
                        throw new LeaseException(LeaseException.Kind.CONFLICT, d.address() + " (IOMMU group " + d.iommuGroup() + ") is leased to "
                                + h.lease().holder() + " as lease " + h.lease().id());
                    }
                }
            }
        }
        String backend = chooseBackend(backendWanted, grants);
        long perLease = grants.stream().mapToLong(Decision.Allowed::memlockBytesPerLease).filter(v -> v >= 0).min().orElse(-1);
        long limit = memlockWanted > 0 ? (perLease >= 0 ? Math.min(memlockWanted, perLease) : memlockWanted) : perLease;
        long perPrincipal = grants.stream().mapToLong(Decision.Allowed::memlockBytesPerPrincipal).filter(v -> v >= 0).min().orElse(-1);
        long principalUse = leases.values().stream().filter(h -> h.lease().holder().uid() == caller.uid())
                .mapToLong(h -> h.lease().memlockLimitBytes()).sum();
        if (perPrincipal >= 0 && limit >= 0 && principalUse + limit > perPrincipal) {
            throw new LeaseException(LeaseException.Kind.EXHAUSTED, "uid " + caller.uid() + " has " + principalUse + " bytes of memlock granted; "
                    + limit + " more exceeds the per-principal limit " + perPrincipal);
        }
        boolean unsafe = grants.stream().anyMatch(Decision.Allowed::unsafeInterrupts);
        boolean keepBound = grants.stream().anyMatch(Decision.Allowed::keepBound);

        // Bind every group; undo what this call bound if a later step fails.
        List<Integer> boundHere = new ArrayList<>();
        DeviceDomain domain = null;
        Rlimits.Rlimit before = null;
        try {
            for (Device d : devices) {
                if (readyGroups.contains(d.iommuGroup())) continue;
                if (!binding.status().containsKey(d.address()) && !d.boundTo(BindingService.VFIO_PCI)) boundHere.add(d.iommuGroup());
                binding.bind(d.address(), false);
            }
            List<DomainOpener.Member> members = devices.stream().map(d -> new DomainOpener.Member(d.address(), d.iommuGroup())).toList();
            domain = domains.open(members, backend);
            if (limit >= 0) before = memlock.limit(caller.pid(), limit);
            String id = UUID.randomUUID().toString();
            List<Lease.Device> leased = devices.stream().map(d -> new Lease.Device(d.address(), d.iommuGroup(), d.vendorDevice())).toList();
            Lease lease = new Lease(id, caller, leased, backend, unsafe, first.rule(), limit, Lease.State.PENDING, Instant.now(), null, null);
            leases.put(id, new Held(lease, domain, before, keepBound));
            if (store != null) LeaseStore.startTime(caller.pid()).ifPresent(t -> startTimes.put(id, t));
            watch.watch(id, caller.pid());
            if (store != null) store.added(stored(leases.get(id)));
            String ticket = newTicket(id);
            if (alloc != null) allocations.claim(alloc.token(), id);
            List<Object> kv = new ArrayList<>(java.util.Arrays.asList("lease", id, "uid", caller.uid(), "pid", caller.pid(), "devices",
                    leased.stream().map(x -> x.address().toString()).toList(), "backend", backend, "rule", first.rule(), "memlock", limit,
                    "unsafeInterrupts", unsafe));
            if (alloc != null) kv.addAll(List.of("kubernetesResource", alloc.resource()));
            audit.append("lease-granted", kv.toArray());
            log.info("event=lease-granted lease={} uid={} pid={} devices={} backend={} unsafe-interrupts={}", id, caller.uid(), caller.pid(),
                    leased.size(), backend, unsafe);
            notifyListeners(lease);
            return Map.entry(lease, ticket);
        } catch (RuntimeException e) {
            if (domain != null) domain.close();
            if (before != null) restoreMemlock(caller.pid(), before);
            for (int g : boundHere) {
                try {
                    binding.release(g, true, false);
                } catch (RuntimeException undo) {
                    log.warn("event=acquire-undo-failed group={} error=\"{}\"", g, undo.getMessage());
                }
            }
            audit.append("acquire-failed", "uid", caller.uid(), "pid", caller.pid(), "devices", wanted, "error", e.getMessage());
            throw translate(e);
        }
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

    private String chooseBackend(String wanted, List<Decision.Allowed> grants) {
        List<String> offered = domains.availableBackends();
        Set<String> allowed = new LinkedHashSet<>(List.of("iommufd", "legacy"));
        for (Decision.Allowed g : grants) {
            if (g.backend() == Backend.LEGACY) allowed.retainAll(Set.of("legacy"));
            if (g.backend() == Backend.IOMMUFD) allowed.retainAll(Set.of("iommufd"));
        }
        if (wanted != null) {
            if (!allowed.contains(wanted)) {
                throw new LeaseException(LeaseException.Kind.DENIED, "backend " + wanted + " is not allowed by rule '" + grants.get(0).rule()
                        + "' (allowed: " + allowed + ")", grants.get(0).rule(), null);
            }
            if (!offered.contains(wanted)) {
                throw new LeaseException(LeaseException.Kind.PRECONDITION, "backend " + wanted + " is not offered by this kernel (offered: " + offered + ")");
            }
            return wanted;
        }
        // Legacy first when both are allowed: it is what every kernel and client speaks.
        for (String b : List.of("legacy", "iommufd")) if (allowed.contains(b) && offered.contains(b)) return b;
        throw new LeaseException(LeaseException.Kind.PRECONDITION, "no IOMMU backend both allowed " + allowed + " and offered by this kernel " + offered);
    }

    private Principal principal(Caller caller, String kubernetesResource) {
        if (caller.groups() != null) return new Principal(caller.uid(), caller.gid(), caller.groups(), null, kubernetesResource);
        List<Integer> groups = new ArrayList<>();
        Memlock.processStatus(caller.pid()).ifPresent(s -> s.lines().filter(l -> l.startsWith("Groups:")).findFirst()
                .ifPresent(l -> {
                    for (String g : l.substring(7).trim().split("\\s+")) {
                        if (!g.isEmpty()) groups.add(Integer.parseInt(g));
                    }
                }));
        return new Principal(caller.uid(), caller.gid(), groups, null, kubernetesResource);
    }

    /**
     * The kubelet allocated {@code devices} of {@code resource} to a broker-mode container: answers the token its
     * client presents on Acquire. Older allocations of these devices are replaced, and their leases ended, since
     * the kubelet has handed the devices on.
     */
    public String registerAllocation(String resource, List<PciAddress> devices) {
        return synced(() -> registerAllocationLocked(resource, devices));
    }

    private synchronized String registerAllocationLocked(String resource, List<PciAddress> devices) {
        Map.Entry<String, List<String>> r = allocations.register(resource, new LinkedHashSet<>(devices));
        for (String lease : r.getValue()) endLocked(lease, "the kubelet allocated its devices to another container");
        audit.append("allocation-registered", "kubernetesResource", resource, "devices", devices.stream().map(PciAddress::toString).toList(),
                "replacedLeases", r.getValue());
        return r.getKey();
    }

    /** How long a broker-mode allocation stays valid while no lease holds it. */
    public synchronized void allocationTtl(Duration ttl) {
        allocations.ttl(ttl);
    }

    private String newTicket(String leaseId) {
        byte[] b = new byte[32];
        random.nextBytes(b);
        String t = Base64.getUrlEncoder().withoutPadding().encodeToString(b);
        tickets.put(t, new Ticket(leaseId, Instant.now().plus(ticketTtl)));
        return t;
    }

    /** Runs {@code work} (which takes the lock), then waits for its audit records outside the lock: concurrent callers share one fsync. */
    private <T> T synced(java.util.function.Supplier<T> work) {
        try {
            return work.get();
        } finally {
            audit.sync();
        }
    }

    private void expireTickets() {
        Instant now = Instant.now();
        for (Map.Entry<String, Ticket> e : tickets.entrySet()) {
            if (now.isAfter(e.getValue().expires()) && tickets.remove(e.getKey(), e.getValue())) {
                try {
                    end(e.getValue().leaseId(), "ticket expired before it was redeemed");
                } catch (RuntimeException x) {
                    // A failure must not cancel the sweep (a periodic task that throws never runs again).
                    log.warn("event=ticket-expiry-failed lease={} error=\"{}\"", e.getValue().leaseId(), x.getMessage());
                }
            }
        }
    }

    /** Redeems a ticket presented on the fd socket by {@code presenter} (from SO_PEERCRED there). One use only. */
    public Handover redeem(String ticket, Caller presenter) {
        return synced(() -> redeemLocked(ticket, presenter));
    }

    private synchronized Handover redeemLocked(String ticket, Caller presenter) {
        Ticket t = tickets.remove(ticket);
        if (t == null || Instant.now().isAfter(t.expires())) {
            audit.append("redeem-refused", "uid", presenter.uid(), "pid", presenter.pid(), "reason", "unknown, used or expired ticket");
            throw new LeaseException(LeaseException.Kind.DENIED, "unknown, already used or expired ticket");
        }
        Held h = leases.get(t.leaseId());
        if (h == null) throw new LeaseException(LeaseException.Kind.NOT_FOUND, "lease " + t.leaseId() + " has ended");
        if (h.lease().holder().uid() != presenter.uid()) {
            // The ticket is burnt: a leaked ticket cannot be retried by its rightful owner either, so end the lease.
            audit.append("redeem-refused", "lease", t.leaseId(), "uid", presenter.uid(), "pid", presenter.pid(), "reason", "uid mismatch");
            endLocked(t.leaseId(), "ticket presented by uid " + presenter.uid() + ", not the lease holder");
            throw new LeaseException(LeaseException.Kind.DENIED, "this ticket belongs to another uid");
        }
        Lease active = h.lease().withState(Lease.State.ACTIVE);
        leases.put(active.id(), h.with(active));
        audit.append("fds-handed-over", "lease", active.id(), "uid", presenter.uid(), "pid", presenter.pid(), "fds", h.domain().fds().size());
        notifyListeners(active);
        return new Handover(active, h.domain().fds());
    }

    /** Ends a lease for {@code caller}: the holder's own, or any for root. */
    public Lease release(String leaseId, Caller caller) {
        return synced(() -> releaseLocked(leaseId, caller));
    }

    private synchronized Lease releaseLocked(String leaseId, Caller caller) {
        Held h = leases.get(leaseId);
        if (h == null) throw new LeaseException(LeaseException.Kind.NOT_FOUND, "no active lease " + leaseId);
        if (!caller.isRoot() && h.lease().holder().uid() != caller.uid()) {
            throw new LeaseException(LeaseException.Kind.DENIED, "lease " + leaseId + " belongs to uid " + h.lease().holder().uid());
        }
        return endLocked(leaseId, caller.isRoot() && h.lease().holder().uid() != 0 ? "revoked by admin" : "released by holder");
    }

    /** Ends a lease for a reason that is not a caller's request (process exit, expiry, revocation, hot removal). */
    public Optional<Lease> end(String leaseId, String reason) {
        return synced(() -> endIfActive(leaseId, reason));
    }

    private synchronized Optional<Lease> endIfActive(String leaseId, String reason) {
        return leases.containsKey(leaseId) ? Optional.of(endLocked(leaseId, reason)) : Optional.empty();
    }

    private Lease endLocked(String leaseId, String reason) {
        Held h = leases.remove(leaseId);
        watch.unwatch(leaseId);
        tickets.values().removeIf(t -> t.leaseId().equals(leaseId));
        allocations.leaseEnded(leaseId);
        List<String> resets = h.domain().resetDevices();
        h.domain().close();
        if (h.memlockBefore() != null) restoreMemlock(h.lease().holder().pid(), h.memlockBefore());
        List<String> restored = new ArrayList<>();
        for (int g : h.lease().devices().stream().map(Lease.Device::group).distinct().toList()) {
            if (!binding.owns(g)) {
                // On vfio-pci before vfio-broker came: nothing of ours to undo, and no journal transaction for it.
                restored.add("group " + g + " left on vfio-pci (not bound by vfio-broker)");
                continue;
            }
            try {
                binding.release(g, !h.keepBound(), false);
                restored.add("group " + g + (h.keepBound() ? " kept on vfio-pci" : " restored"));
            } catch (BindingException e) {
                // Not ours to restore (was on vfio-pci before) or a kernel failure the journal retries later.
                restored.add("group " + g + ": " + e.getMessage());
            }
        }
        Lease done = h.lease().ended(reason);
        startTimes.remove(leaseId);
        if (store != null) store.ended(leaseId);
        ended.add(done);
        if (ended.size() > 1000) ended.remove(0);
        audit.append("lease-ended", "lease", leaseId, "uid", done.holder().uid(), "reason", reason, "reset", resets, "binding", restored);
        log.info("event=lease-ended lease={} reason=\"{}\" reset={} binding={}", leaseId, reason, resets, restored);
        notifyListeners(done);
        return done;
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

    public synchronized Optional<Lease> get(String id) {
        Held h = leases.get(id);
        if (h != null) return Optional.of(h.lease());
        return ended.stream().filter(l -> l.id().equals(id)).findFirst();
    }

    public synchronized List<Lease> active() {
        return leases.values().stream().map(Held::lease).toList();
    }

    public synchronized List<Lease> recentlyEnded() {
        return List.copyOf(ended);
    }

    public synchronized List<Lease> visibleTo(Caller caller) {
        return leases.values().stream().map(Held::lease).filter(l -> caller.isRoot() || l.holder().uid() == caller.uid()).toList();
    }

    public Memlock memlock() {
        return memlock;
    }

    /**
     * Stops watching without ending leases: clients keep their fds across a daemon restart, and unbinding a device
     * a client still holds would block in the kernel until the client lets go.
     */
    @Override
    public synchronized void close() {
        for (Held h : leases.values()) {
            audit.append("lease-orphaned", "lease", h.lease().id(), "uid", h.lease().holder().uid(), "reason", "daemon stopped");
            h.domain().close();
        }
        watch.close();
        timers.shutdownNow();
        audit.sync();
    }

    public static Collection<String> addresses(Lease l) {
        return l.devices().stream().map(d -> d.address().toString()).toList();
    }
}
