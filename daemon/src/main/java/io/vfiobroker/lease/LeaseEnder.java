package io.vfiobroker.lease;

import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingException;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.concurrent.Daemons;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.nativeshim.NativeException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Ends leases, each on a thread of its own and outside every lock: the client has been told (the lease is ENDING),
 * so it gets the grace to let go; then every process still holding the lease's files is killed; then the devices are
 * reset, the daemon's fds closed, the memlock limit restored and the groups released. vfio-pci's unbind does not
 * return while an fd of the device is open, so the groups are released only once no holder is left; while some
 * remain the lease is STUCK, names them, and holds up nothing but its own groups.
 */
final class LeaseEnder implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LeaseEnder.class);
    private static final long POLL_MS = 100;
    private static final long KILL_WAIT_MS = 2000;
    private static final long STUCK_RETRY_MS = 1000;
    /** vfio-pci's remove waits for the device's last fd; past this, the kernel is what holds the lease up. */
    static final long UNBIND_STUCK_MS = 5000;

    private final LeaseRegistry registry;
    private final Holders holders;
    private final BindingService binding;
    private final DomainOpener domains;
    private final Memlock memlock;
    private final AuditLog audit;
    private final SysfsHost host;
    private final Supplier<Duration> grace;
    private final LeaseChanges changes;
    private volatile boolean closed;
    private final ScheduledExecutorService watchdog = Daemons.scheduler("lease-end-watchdog");
    private final ExecutorService workers = Executors.newCachedThreadPool(Daemons.numbered("lease-end"));

    LeaseEnder(LeaseRegistry registry, Holders holders, BindingService binding, DomainOpener domains, Memlock memlock, AuditLog audit,
               SysfsHost host, Supplier<Duration> grace, LeaseChanges changes) {
        this.registry = registry;
        this.holders = holders;
        this.binding = binding;
        this.domains = domains;
        this.memlock = memlock;
        this.audit = audit;
        this.host = host;
        this.grace = grace;
        this.changes = changes;
    }

    /**
     * Takes {@code h} (already ENDING) to ENDED on a worker; the future completes with the ended lease. {@code handedOver}:
     * its fds were collected, so processes may hold them.
     */
    CompletableFuture<Lease> end(LeaseRegistry.Held h, String reason, boolean handedOver) {
        return CompletableFuture.supplyAsync(() -> run(h, reason, handedOver), workers);
    }

    private Lease run(LeaseRegistry.Held h, String reason, boolean handedOver) {
        String id = h.lease().id();
        try {
            // Read now, while vfio-pci has the devices: once its remove starts (a STUCK unbind), a device's cdev is gone
            // from sysfs and /dev, though a mapping still holds it.
            Set<String> exclusive = exclusivePaths(h);
            letGo(h, handedOver, exclusive);
            List<String> resets = reset(h);
            h.domain().close();
            restoreMemlock(h);
            registry.releasing(id);
            List<String> restored = releaseWatched(h, exclusive);
            Lease done = registry.finish(id, reason);
            changes.ended(id);
            audit.append("lease-ended", "lease", id, "uid", done.holder().uid(), "reason", reason, "devices",
                    done.allDevices().stream().map(d -> d.address().toString()).toList(), "reset", resets, "binding", restored);
            audit.sync();
            log.info("event=lease-ended lease={} reason=\"{}\" reset={} binding={}", id, reason, resets, restored);
            changes.changed(done);
            return done;
        } catch (RuntimeException e) {
            log.error("event=lease-end-failed lease={} error=\"{}\"", id, e.toString());
            Lease stuck = registry.update(id, l -> l.stuck(List.of("ending failed: " + e.getMessage())));
            changes.changed(stuck);
            throw e;
        }
    }

    /**
     * Waits out the grace while holders remain, then kills them (through pidfds, checking each is still the process
     * found), until none is left. A holder that forks is found again in the next scan.
     */
    private void letGo(LeaseRegistry.Held h, boolean handedOver, Set<String> exclusive) {
        // Never handed over: the daemon's own copies are the only ones (its group fd keeps the group node single-open).
        if (!handedOver && !h.adopted()) return;
        List<Integer> mine = h.domain().fds().stream().filter(f -> f.fd().isOpen()).map(f -> f.fd().fd()).toList();
        long deadline = System.nanoTime() + grace.get().toNanos();
        boolean stuck = false;
        while (true) {
            List<Holders.Holder> found = holders.find(exclusive, mine);
            if (found.isEmpty()) return;
            if (System.nanoTime() < deadline) {
                sleep(POLL_MS);
                continue;
            }
            for (Holders.Holder x : found) kill(h, x);
            audit.sync();
            boolean gone = true;
            for (Holders.Holder x : found) gone &= holders.awaitGone(x, KILL_WAIT_MS);
            if (gone) continue; // scan again: a fork may have inherited the files meanwhile
            if (!stuck) {
                stuck = true;
                Lease l = registry.update(h.lease().id(), x -> x.stuck(found.stream().map(Holders.Holder::toString).toList()));
                audit.append("lease-stuck", "lease", l.id(), "holders", l.stuckHolders());
                changes.changed(l);
            }
            sleep(STUCK_RETRY_MS);
        }
    }

    /** SIGKILLs a holder of {@code h}'s files and, if the signal reached it, audits and logs that. */
    private boolean kill(LeaseRegistry.Held h, Holders.Holder x) {
        if (!holders.kill(x)) return false;
        audit.append("lease-holder-killed", "lease", h.lease().id(), "pid", x.pid(), "uid", x.uid(), "comm", x.comm(), "file", x.file(),
                "reason", h.lease().endReason());
        log.warn("event=lease-holder-killed lease={} pid={} comm={} uid={}", h.lease().id(), x.pid(), x.comm(), x.uid());
        return true;
    }

    /** The files only this lease's holders can have open: its group nodes and vfio cdevs (or their stand-ins). */
    private Set<String> exclusivePaths(LeaseRegistry.Held h) {
        Set<String> paths = new LinkedHashSet<>();
        for (int g : h.lease().groups()) paths.add(host.deviceNode("vfio/" + g).toString());
        Set<String> everyLeases = Set.of(host.deviceNode("vfio/vfio").toString(), host.deviceNode("iommu").toString());
        for (HandoverFd f : h.domain().fds()) {
            // A container or an iommufd node is opened by every lease: only kcmp against this lease's own open file tells.
            if (!f.fd().isOpen() || f.kind() == HandoverFd.Kind.CONTAINER || f.kind() == HandoverFd.Kind.IOMMUFD) continue;
            holders.daemonFile(f.fd().fd()).filter(t -> !t.startsWith("anon_inode:") && !everyLeases.contains(t)).ifPresent(paths::add);
        }
        for (Lease.Device d : h.lease().allDevices()) {
            // No vfio-dev: a kernel without VFIO_DEVICE_CDEV.
            for (String cdev : host.list("sys/bus/pci/devices/" + d.address() + "/vfio-dev")) {
                paths.add(host.deviceNode("vfio/devices/" + cdev).toString());
            }
        }
        return paths;
    }

    /**
     * Resets every device the lease reached. A lease taken back after a restart has no device fd of the daemon's: once
     * its client is gone the group is free, so the domain is opened again for the reset.
     */
    private List<String> reset(LeaseRegistry.Held h) {
        if (!h.adopted()) return h.domain().resetDevices();
        List<DomainOpener.Member> members = h.lease().allDevices().stream().map(d -> new DomainOpener.Member(d.address(), d.group())).toList();
        try (DeviceDomain again = domains.open(members, h.lease().backend())) {
            return again.resetDevices();
        } catch (RuntimeException e) {
            return List.of("no reset: the daemon restarted during this lease and could not open the devices again: " + e.getMessage());
        }
    }

    private void restoreMemlock(LeaseRegistry.Held h) {
        if (h.memlockBefore() == null) return;
        int pid = h.lease().holder().pid();
        // Only the lease's own process: a pid reused since is someone else's.
        if (holders.startTime(pid).orElse(-1L) != h.startTime()) return;
        memlock.restore(pid, h.memlockBefore()).ifPresent(why -> {
            // The client keeps the lease's lower limit.
            audit.append("memlock-restore-failed", "lease", h.lease().id(), "pid", pid, "error", why);
            log.warn("event=memlock-restore-failed lease={} pid={} error=\"{}\"", h.lease().id(), pid, why);
        });
    }

    /** Releases the groups; if that has not returned after {@link #UNBIND_STUCK_MS}, the lease is STUCK and says why. */
    private List<String> releaseWatched(LeaseRegistry.Held h, Set<String> exclusive) {
        ScheduledFuture<?> watch;
        try {
            watch = watchdog.schedule(() -> markStuck(h, exclusive), UNBIND_STUCK_MS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            return release(h); // the daemon is stopping: release without the watch
        }
        try {
            return release(h);
        } finally {
            watch.cancel(false);
        }
    }

    /** The ended lease, or empty if it did not end within {@code max}. */
    static java.util.Optional<Lease> await(CompletableFuture<Lease> f, Duration max) {
        try {
            return java.util.Optional.of(f.get(max.toMillis(), TimeUnit.MILLISECONDS));
        } catch (java.util.concurrent.TimeoutException e) {
            return java.util.Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return java.util.Optional.empty();
        } catch (java.util.concurrent.ExecutionException e) {
            return java.util.Optional.empty();
        }
    }

    private void markStuck(LeaseRegistry.Held h, Set<String> exclusive) {
        String id = h.lease().id();
        List<String> why = new ArrayList<>();
        for (Holders.Holder x : holders.find(exclusive, List.of())) why.add(x.toString());
        for (Holders.Holder x : holders.mappers(exclusive)) {
            if (x.file().endsWith(Holders.ANON_DEVICE)) {
                why.add(x + ", some VFIO device's: this lease's if no other process on this node uses VFIO");
            } else if (kill(h, x)) {
                // The lease's own file, mapped after its fds were closed: a holder like any other, past its grace.
                why.add(x + ": killed");
            }
        }
        why.add("vfio-pci has not let go of group(s) " + h.lease().groups() + " after " + UNBIND_STUCK_MS
                + " ms: its unbind waits for the last open fd of a device");
        registry.stuckWhileReleasing(id, why).ifPresent(l -> {
            audit.append("lease-stuck", "lease", id, "holders", l.stuckHolders());
            log.warn("event=lease-stuck lease={} holders=\"{}\"", id, String.join("; ", l.stuckHolders()));
            changes.changed(l);
        });
        audit.sync();
    }

    private List<String> release(LeaseRegistry.Held h) {
        List<String> restored = new ArrayList<>();
        for (int g : h.lease().groups()) {
            if (!binding.owns(g)) {
                restored.add("group " + g + " left on vfio-pci (not bound by vfio-broker)");
                continue;
            }
            try {
                binding.release(g, !h.keepBound(), false);
                restored.add("group " + g + (h.keepBound() ? " kept on vfio-pci" : " restored"));
            } catch (BindingException e) {
                restored.add("group " + g + ": " + e.getMessage());
            }
        }
        return restored;
    }

    private void sleep(long ms) {
        if (closed) throw new IllegalStateException("the daemon is stopping; the lease is taken up again after its restart");
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while ending a lease", e);
        }
    }

    /**
     * Stops taking new ends; a worker waiting out a grace stops at its next look. No interrupt: one in the middle of a
     * file write would close that file's channel (the audit log's, the journal's) for everyone.
     */
    @Override
    public void close() {
        closed = true;
        workers.shutdown();
        watchdog.shutdownNow();
    }
}
