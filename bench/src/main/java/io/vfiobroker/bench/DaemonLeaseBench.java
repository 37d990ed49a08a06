package io.vfiobroker.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * Lease cycles through the production daemon ({@link BrokerProcess}) from separate client processes
 * ({@link ClientFleet}), against the bare protocol ({@link FloorServer}) under the same conditions, in the same run.
 * Targets are ratios to that floor: throughput ≥ 0.7× at 1 and 16 clients, p99 ≤ 1.5×. Prints PASS or OVER per target
 * and records the run in bench/results/lease.json. Args: [cycles for one client (4000)].
 */
public final class DaemonLeaseBench {

    static final int MANY = 16;
    static final double RATE_TARGET = 0.7;
    static final double P99_TARGET = 1.5;

    /** A client's CycleClient arguments: client k of n. */
    interface ClientArgs {
        List<String> of(int k, int n);
    }

    record Rows(ClientFleet.Round one, ClientFleet.Round many) {
    }

    public static void main(String[] args) throws Exception {
        int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 4000;
        Path repo = Path.of(System.getProperty("bench.repo", ".")).toAbsolutePath();
        BenchResults results = BenchResults.open("lease").param("cycles", cycles).param("clients", List.of(1, MANY))
                .param("clientJvm", ClientFleet.CLIENT_JVM);
        RecordedRun.exec(results, "vb-lease-bench-", dir -> {
            run(repo, dir, cycles, results);
            return 0; // a target missed is a number to read (OVER), not a failed run
        });
    }

    static void run(Path repo, Path dir, int cycles, BenchResults results) throws Exception {
        long memlock = ClientLimits.memlockBelowHardLimit();
        LeaseHost host = LeaseHost.generate(dir, memlock);
        boolean cap = ClientLimits.capSysResource();
        System.out.printf("host: %d VFs on vfio-pci, one IOMMU group each, rotated over; policy memlockPerLease %d bytes; state (audit log, "
                + "journal, leases.json) on disk in %s%n", host.vfs().size(), memlock, dir.resolve("state"));
        System.out.printf("CAP_SYS_RESOURCE: %s%n", cap ? "held" : "withheld from root on this machine: the daemon lowers each same-uid client's "
                + "RLIMIT_MEMLOCK to the policy's (below its hard limit), and cannot raise it back at release");
        System.out.println("real: bin/vfio-broker daemon in its own process with its full wiring (gRPC metrics, events, SSE with one watcher, "
                + "accounting sampler, audit fsync, lease store), client processes using io.vfiobroker.client, gRPC over api.sock, "
                + "SCM_RIGHTS over fd.sock, prlimit; stood in: VFIO ioctls (in-memory VfioKernelModel), sysfs (generated tree)");
        results.param("memlockPerLease", memlock).param("capSysResource", cap);

        Rows floor;
        try (FloorProcess f = new FloorProcess(dir)) {
            floor = rows("floor ", cycles, (k, n) -> List.of("floor", f.dir.toString()), () -> cpuNs(f.pid));
        }
        Rows broker;
        try (BrokerProcess d = new BrokerProcess(repo, host.root(), host.policy(), dir.resolve("run"), dir.resolve("state"), dir.resolve("daemon.log"));
             SseWatcher sse = new SseWatcher(d)) {
            broker = rows("broker", cycles, (k, n) -> List.of("broker", d.runDir.toString(), String.join(",", host.slice(k, n))), () -> cpuNs(d.pid()));
            System.out.printf("daemon: %d lease events reached the SSE watcher; %s; audit log %d bytes%n", sse.leaseEvents(),
                    DaemonMetrics.acquires(d), DaemonMetrics.auditBytes(d.stateDir));
        }
        record(results, "floor", floor);
        record(results, "broker", broker);
        results.number("brokerCpuMsPerCycle1", broker.one().serverCpuMsPerCycle()).number("brokerCpuMsPerCycle16", broker.many().serverCpuMsPerCycle());
        System.out.printf("broker CPU per cycle (daemon utime+stime): %.3f ms at 1 client, %.3f ms at %d (floor server: %.3f, %.3f)%n",
                broker.one().serverCpuMsPerCycle(), broker.many().serverCpuMsPerCycle(), MANY, floor.one().serverCpuMsPerCycle(),
                floor.many().serverCpuMsPerCycle());
        System.out.println("targets (ratio to the floor in this run):");
        target(results, "rate1", "throughput, 1 client", broker.one().perSecond() / floor.one().perSecond(), RATE_TARGET, true);
        target(results, "rate16", "throughput, " + MANY + " clients", broker.many().perSecond() / floor.many().perSecond(), RATE_TARGET, true);
        target(results, "p99_1", "p99, 1 client", broker.one().p(0.99) / floor.one().p(0.99), P99_TARGET, false);
        target(results, "p99_16", "p99, " + MANY + " clients", broker.many().p(0.99) / floor.many().p(0.99), P99_TARGET, false);
    }

    /** 1 client over all VFs, then 16 over their own slices; each fleet runs a round unmeasured first (both JITs warm). */
    static Rows rows(String label, int cycles, ClientArgs args, LongSupplier serverCpu) throws Exception {
        ClientFleet.Round one = round(label, 1, cycles, args, serverCpu);
        ClientFleet.Round many = round(label, MANY, Math.max(50, cycles * 2 / MANY), args, serverCpu);
        return new Rows(one, many);
    }

    private static ClientFleet.Round round(String label, int clients, int perClient, ClientArgs args, LongSupplier serverCpu) throws Exception {
        try (ClientFleet fleet = new ClientFleet(java.util.stream.IntStream.range(0, clients).mapToObj(k -> args.of(k, clients)).toList())) {
            fleet.round(perClient, serverCpu);
            ClientFleet.Round r = fleet.round(perClient, serverCpu);
            System.out.println(label + " " + r.line());
            fleet.close();
            if (label.startsWith("broker")) System.out.println("       clients' RLIMIT_MEMLOCK (soft hard) at exit: " + fleet.memlockAtExit().stream().distinct().toList());
            return r;
        }
    }

    private static void record(BenchResults results, String who, Rows rows) {
        for (ClientFleet.Round r : List.of(rows.one(), rows.many())) {
            String k = who + r.clients() + ".";
            results.number(k + "cyclesPerSecond", r.perSecond()).number(k + "p50Ms", r.p(0.50)).number(k + "p99Ms", r.p(0.99))
                    .number(k + "cycles", r.latencyNs().length).number(k + "serverCpuMsPerCycle", r.serverCpuMsPerCycle());
        }
    }

    private static void target(BenchResults results, String key, String what, double ratio, double limit, boolean atLeast) {
        boolean pass = atLeast ? ratio >= limit : ratio <= limit;
        results.number("ratio." + key, ratio).param("verdict." + key, pass ? "PASS" : "OVER");
        System.out.printf("  %-4s %-24s broker/floor %.2f× (target %s %.1f×)%n", pass ? "PASS" : "OVER", what, ratio, atLeast ? "≥" : "≤", limit);
    }

    private static long cpuNs(long pid) {
        try {
            return ProcStats.cpuNs(pid);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
