package io.vfiobroker.accounting;

import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.concurrent.Daemons;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Memlock accounting for every lease: the holder's RLIMIT_MEMLOCK (from /proc/<pid>/limits, readable without
 * privilege, unlike prlimit on another uid), its use (VmLck, VmPin) and the peak seen, summed per principal (uid)
 * and for the host. Sampled periodically and on demand; a lease that reaches the near-limit ratio or goes over
 * its limit is a {@link Crossing} and a line in the audit log, once per crossing. It knows leases only as
 * {@link Holding}s, so it depends neither on the lease service nor on the event bus.
 */
public final class AccountingService implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AccountingService.class);
    public static final long PAGE_SIZE = 4096;

    public enum Level { OK, NEAR_LIMIT, OVER_LIMIT, UNLIMITED }

    /** @param limitBytes -1 = unlimited; usedBytes = max(vmLck, vmPin), what the limit is checked against in either mode */
    public record LeaseUse(String leaseId, int uid, int pid, long limitBytes, long usedBytes, long vmLckBytes, long vmPinBytes,
                           long peakBytes, Level level, long lockedPages, boolean processAlive) {
    }

    /** @param limitBytes sum of the leases' limits, -1 when any is unlimited */
    public record PrincipalUse(int uid, int leases, long limitBytes, long usedBytes, long peakBytes) {
    }

    /** What a lease holds, as far as memlock is concerned: its id, its holder and the limit it was granted (-1 = unlimited). */
    public record Holding(String leaseId, int uid, int pid, long memlockLimitBytes) {
    }

    /** A lease's use crossed into {@code level} ("near-limit", "over-limit" or "ok"); type is "memlock-" + level. */
    public record Crossing(String type, String leaseId, int uid, int pid, long usedBytes, long limitBytes, String level) {
    }

    public record HostUse(int leases, long limitBytes, long usedBytes, long peakBytes) {
    }

    public record Report(Instant sampled, List<LeaseUse> leases, List<PrincipalUse> principals, HostUse host) {
        public Report {
            leases = List.copyOf(leases);
            principals = List.copyOf(principals);
        }
    }

    private final Supplier<List<Holding>> activeLeases;
    private final Memlock memlock;
    private final Consumer<Crossing> crossings;
    private final AuditLog audit;
    private final double nearRatio;
    private final Map<String, Long> leasePeak = new HashMap<>();
    private final Map<String, Level> leaseLevel = new HashMap<>();
    private final Map<Integer, Long> principalPeak = new HashMap<>();
    private long hostPeak;
    private volatile Report latest = new Report(Instant.EPOCH, List.of(), List.of(), new HostUse(0, 0, 0, 0));
    private final List<Consumer<Report>> listeners = new CopyOnWriteArrayList<>();
    private final ScheduledExecutorService sampler = Daemons.scheduler("memlock-sampler");
    /** A sample on the sampler thread: a failure is logged and the next one still runs. */
    private final Runnable sampleQuietly = Daemons.guarded(this::sample,
            e -> log.warn("event=memlock-sample-failed error=\"{}\"", e.getMessage()));

    public AccountingService(Supplier<List<Holding>> activeLeases, Memlock memlock, Consumer<Crossing> crossings, AuditLog audit,
                             double nearRatio) {
        if (!(nearRatio > 0 && nearRatio <= 1)) throw new IllegalArgumentException("near-limit ratio must be in (0, 1], not " + nearRatio);
        this.activeLeases = activeLeases;
        this.memlock = memlock;
        this.crossings = crossings;
        this.audit = audit;
        this.nearRatio = nearRatio;
    }

    /** Samples every {@code period} from now on. */
    public void start(Duration period) {
        sampler.scheduleWithFixedDelay(sampleQuietly, 0, period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Samples soon on the sampler thread (a lease started or ended): never in the caller's locks. */
    public void sampleSoon() {
        // The lease changes of the next 100 ms (four per lease, many leases at once) are one sample, not one each.
        if (sampler.isShutdown() || !samplePending.compareAndSet(false, true)) return;
        try {
            sampler.schedule(() -> {
                samplePending.set(false);
                sampleQuietly.run();
            }, SOON_MS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            samplePending.set(false);
        }
    }

    private final java.util.concurrent.atomic.AtomicBoolean samplePending = new java.util.concurrent.atomic.AtomicBoolean();
    private static final long SOON_MS = 100;

    /** Called with every report (WatchMemlock, metrics). */
    public void addListener(Consumer<Report> l) {
        listeners.add(l);
    }

    public void removeListener(Consumer<Report> l) {
        listeners.remove(l);
    }

    public Report latest() {
        return latest;
    }

    /** Reads every active lease's use now. */
    public Report sample() {
        List<Holding> active = activeLeases.get();
        List<Crossing> events = new ArrayList<>();
        Report r;
        synchronized (this) {
            List<LeaseUse> uses = new ArrayList<>();
            Set<String> seen = new HashSet<>();
            for (Holding l : active) {
                int pid = l.pid();
                Memlock.Usage u = memlock.usage(pid).orElse(null);
                long lck = u == null ? 0 : u.vmLckBytes();
                long pin = u == null ? 0 : u.vmPinBytes();
                long used = Math.max(lck, pin);
                long limit = memlock.softLimit(pid).orElse(l.memlockLimitBytes());
                long peak = Math.max(used, leasePeak.getOrDefault(l.leaseId(), 0L));
                leasePeak.put(l.leaseId(), peak);
                seen.add(l.leaseId());
                Level level = level(used, limit);
                Level was = leaseLevel.put(l.leaseId(), level);
                if (u != null && level != was && !(was == null && (level == Level.OK || level == Level.UNLIMITED))) {
                    events.add(crossing(l, used, limit, level));
                }
                uses.add(new LeaseUse(l.leaseId(), l.uid(), pid, limit, used, lck, pin, peak, level, used / PAGE_SIZE, u != null));
            }
            leasePeak.keySet().retainAll(seen);
            leaseLevel.keySet().retainAll(seen);

            Map<Integer, List<LeaseUse>> byUid = new TreeMap<>();
            for (LeaseUse u : uses) byUid.computeIfAbsent(u.uid(), k -> new ArrayList<>()).add(u);
            List<PrincipalUse> principals = new ArrayList<>();
            for (Map.Entry<Integer, List<LeaseUse>> e : byUid.entrySet()) {
                long used = e.getValue().stream().mapToLong(LeaseUse::usedBytes).sum();
                long peak = Math.max(used, principalPeak.getOrDefault(e.getKey(), 0L));
                principalPeak.put(e.getKey(), peak);
                principals.add(new PrincipalUse(e.getKey(), e.getValue().size(), sumLimits(e.getValue()), used, peak));
            }
            principalPeak.keySet().retainAll(byUid.keySet());
            long hostUsed = uses.stream().mapToLong(LeaseUse::usedBytes).sum();
            hostPeak = Math.max(hostPeak, hostUsed);
            r = new Report(Instant.now(), uses, principals, new HostUse(uses.size(), sumLimits(uses), hostUsed, hostPeak));
            latest = r;
        }
        for (Crossing e : events) crossings.accept(e);
        for (Consumer<Report> l : listeners) {
            try {
                l.accept(r);
            } catch (RuntimeException e) {
                log.warn("event=memlock-listener-failed error=\"{}\"", e.getMessage());
            }
        }
        return r;
    }

    private Crossing crossing(Holding l, long used, long limit, Level level) {
        String name = switch (level) {
            case NEAR_LIMIT -> "near-limit";
            case OVER_LIMIT -> "over-limit";
            default -> "ok";
        };
        if (level == Level.NEAR_LIMIT || level == Level.OVER_LIMIT) {
            audit.record("memlock-" + name, "lease", l.leaseId(), "uid", l.uid(), "pid", l.pid(), "used", used, "limit", limit);
            log.warn("event=memlock-{} lease={} uid={} pid={} used={} limit={}", name, l.leaseId(), l.uid(), l.pid(), used, limit);
        }
        return new Crossing("memlock-" + name, l.leaseId(), l.uid(), l.pid(), used, limit, name);
    }

    private Level level(long used, long limit) {
        if (limit < 0) return Level.UNLIMITED;
        if (used > limit) return Level.OVER_LIMIT;
        if (limit > 0 && used >= nearRatio * limit) return Level.NEAR_LIMIT;
        if (limit == 0 && used > 0) return Level.OVER_LIMIT;
        return Level.OK;
    }

    private static long sumLimits(List<LeaseUse> uses) {
        long sum = 0;
        for (LeaseUse u : uses) {
            if (u.limitBytes() < 0) return -1;
            sum += u.limitBytes();
        }
        return sum;
    }

    @Override
    public void close() {
        sampler.shutdownNow();
    }
}
