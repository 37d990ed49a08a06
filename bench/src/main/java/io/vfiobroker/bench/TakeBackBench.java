package io.vfiobroker.bench;

import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Acquire → redeem → Release latency of the other groups while one lease is being taken back and its holder will not
 * let go: the broker must not stall behind it. Real: the lease service with its store, audit fsyncs, the holder scan of
 * /proc, a real holder process (sh holding the lease's file), real pidfds. Stood in: the VFIO calls are the kernel model's,
 * its fds small files (VfioKernelModel.standInFiles), sysfs is a generated tree with the simulated kernel. The group being taken back stays ENDING
 * for the whole run (grace 600 s, its holder alive).
 * Then the same cycles while one lease is STUCK, its end waiting in vfio-pci's unbind (the kernel does not return it while a
 * device fd is open): stood in by the simulated kernel, which blocks that device's unbind while {@code .sim/block/<address>} exists.
 *
 * Usage: TakeBackBench [cycles]
 */
public final class TakeBackBench {

    public static void main(String[] args) throws Exception {
        int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        // As LeaseBench: the daemon's log lines are formatted as in production but written to /dev/null.
        if (System.getProperty("logback.configurationFile") == null) System.setProperty("logback.configurationFile", "lease-bench-logback.xml");
        Path tmp = Path.of("/dev/shm").toFile().isDirectory() ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
        try (LeaseBench.Daemon d = new LeaseBench.Daemon(tmp, tmp)) {
            Path policy = d.dir.resolve("policy.yaml");
            // The first VF's leases restore its driver at their end (no keepBound): the blocked row's release writes unbind.
            String first = d.vfs.get(0);
            Files.writeString(policy, Files.readString(policy).replace("version: 1\n", "version: 1\nleases:\n  revokeGraceSeconds: 600\n")
                    .replace("rules:\n", "rules:\n  - name: restored\n    action: allow\n    devices:\n      address: [\"" + first + "\"]\n"
                            + "    principals:\n      uid: 0\n    limits:\n      maxDevices: unlimited\n      memlockPerLease: unlimited\n"));
            d.policy.reload();
            Caller self = new Caller((int) ProcessHandle.current().pid(), 0, 0);
            List<String> others = d.vfs.subList(1, d.vfs.size());

            cycles(d.leases, self, others, cycles / 4); // warm-up
            double[] before = cycles(d.leases, self, others, cycles);

            Map.Entry<Lease, String> held = d.leases.acquire(self, List.of(d.vfs.get(0)), null, 0);
            d.leases.redeem(held.getValue(), self).close();
            Path file = d.dir.resolve("fake/device-" + d.vfs.get(0));
            Process holder = new ProcessBuilder("sh", "-c", "exec 3<\"$1\"; exec sleep 600", "holder", file.toString()).start();
            Thread.sleep(200);
            d.leases.revoke(held.getKey().id(), "revoked by admin");
            double[] during = cycles(d.leases, self, others, cycles);
            Lease.State state = d.leases.get(held.getKey().id()).orElseThrow().state();
            holder.destroyForcibly().waitFor();
            if (!d.leases.awaitEnded(held.getKey().id(), Duration.ofSeconds(30))) throw new IllegalStateException("taken-back lease did not end");


            System.out.printf("take-back bench: %d acquire+redeem+release cycles over %d other groups, one client%n", cycles, others.size());
            System.out.printf("  alone                     : p50 %.3f ms, p99 %.3f ms%n", p(before, 0.5), p(before, 0.99));
            System.out.printf("  one group %-7s (holder alive): p50 %.3f ms, p99 %.3f ms  (p99 ratio %.2f)%n", state, p(during, 0.5), p(during, 0.99),
                    p(during, 0.99) / p(before, 0.99));
            System.out.println("    real: lease service, store, audit fsync, /proc holder scan, holder process; stood in: VFIO (files), sysfs (generated tree, simulated kernel)");
            blockedUnbindRows(d, self, first, others, cycles);
        }
    }

    /**
     * Every lease now binds its device at Acquire and restores it at the end (the VFs start driverless, no keepBound), so
     * each cycle writes sysfs and the binding journal; then the same while the first VF's release waits in its unbind.
     */
    private static void blockedUnbindRows(LeaseBench.Daemon d, Caller self, String first, List<String> others, int cycles) throws Exception {
        SimulatedKernelHost kernel = new SimulatedKernelHost(d.dir.resolve("host"));
        for (String vf : d.vfs) kernel.write("sys/bus/pci/drivers/vfio-pci/unbind", vf);
        Path policy = d.dir.resolve("policy.yaml");
        Files.writeString(policy, Files.readString(policy).replace("keepBound: true", "keepBound: false"));
        d.policy.reload();
        cycles(d.leases, self, others, cycles / 4); // warm-up
        double[] alone = cycles(d.leases, self, others, cycles);

        String lease = blockedRelease(d, kernel, self, first);
        AtomicInteger done = new AtomicInteger();
        long t0 = System.nanoTime();
        Future<double[]> run = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "cycles");
            t.setDaemon(true);
            return t;
        }).submit(() -> cycles(d.leases, self, others, cycles, done));
        double[] during = null;
        try {
            during = run.get(60 + cycles / 5, TimeUnit.SECONDS);
        } catch (TimeoutException stalled) {
            System.out.printf("  STALLED: %d of %d cycles done in %.0f s while the unbind was blocked%n", done.get(), cycles, (System.nanoTime() - t0) / 1e9);
        }
        Lease.State state = d.leases.get(lease).orElseThrow().state();
        boolean blockedThroughout = kernel.exists(".sim/block/" + first) && state != Lease.State.ENDED;
        Files.delete(kernel.root().resolve(".sim/block/" + first));
        if (during == null) during = run.get(120, TimeUnit.SECONDS);
        boolean ended = d.leases.awaitEnded(lease, Duration.ofSeconds(30));
        String driverAfter = kernel.linkName("sys/bus/pci/devices/" + first + "/driver").orElse("none");

        System.out.println("  with a bind at Acquire and a restore at the end on every cycle (devices start driverless, no keepBound):");
        System.out.printf("  alone                     : p50 %.3f ms, p99 %.3f ms%n", p(alone, 0.5), p(alone, 0.99));
        System.out.printf("  one group %-7s (its unbind blocked in the kernel): p50 %.3f ms, p99 %.3f ms  (p99 ratio %.2f)%n", state,
                p(during, 0.5), p(during, 0.99), p(during, 0.99) / p(alone, 0.99));
        System.out.println("    real: lease service, store, audit fsync, lease end on its worker, binding service (journal fsync, per-group locks, "
                + "reconcile); stood in: the kernel's blocking unbind (the simulated kernel waits while .sim/block/<address> exists), VFIO (files), "
                + "sysfs (generated tree, simulated kernel)");
        System.out.printf("    blocked for the whole measurement: %s; after unblocking: lease ENDED %s, %s driver %s (driverless as it was found)%n",
                blockedThroughout ? "yes" : "NO", ended ? "yes" : "NO", first, driverAfter);
    }

    /**
     * Leases {@code address} and releases the lease with its unbind blocked; returns the lease once its end waits in that
     * unbind (its driver_override already cleared).
     */
    private static String blockedRelease(LeaseBench.Daemon d, SimulatedKernelHost kernel, Caller self, String address) throws Exception {
        Map.Entry<Lease, String> g = d.leases.acquire(self, List.of(address), null, 0);
        d.leases.redeem(g.getValue(), self).close();
        Files.createDirectories(kernel.root().resolve(".sim/block"));
        Files.writeString(kernel.root().resolve(".sim/block/" + address), "");
        d.leases.release(g.getKey().id(), self); // answers once the end is under way (it waits at most 2 s)
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!kernel.read("sys/bus/pci/devices/" + address + "/driver_override").orElse("").equals("(null)")) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("the lease's release never reached the unbind");
            Thread.sleep(10);
        }
        // The lease turns STUCK once the unbind has not returned for a while: measure from then on.
        while (d.leases.get(g.getKey().id()).orElseThrow().state() != Lease.State.STUCK) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("the lease never turned STUCK while its unbind was blocked");
            Thread.sleep(50);
        }
        if (kernel.linkName("sys/bus/pci/devices/" + address + "/driver").isEmpty()) throw new IllegalStateException("unbind was not blocked");
        return g.getKey().id();
    }

    private static double[] cycles(LeaseService leases, Caller self, List<String> vfs, int n) throws Exception {
        return cycles(leases, self, vfs, n, new AtomicInteger());
    }

    private static double[] cycles(LeaseService leases, Caller self, List<String> vfs, int n, AtomicInteger done) throws Exception {
        double[] ms = new double[n];
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            Map.Entry<Lease, String> g = leases.acquire(self, List.of(vfs.get(i % vfs.size())), null, 0);
            leases.redeem(g.getValue(), self).close();
            leases.release(g.getKey().id(), self);
            if (!leases.awaitEnded(g.getKey().id(), Duration.ofSeconds(10))) throw new IllegalStateException("lease did not end: " + g.getKey().id());
            ms[i] = (System.nanoTime() - t0) / 1e6;
            done.incrementAndGet();
        }
        return ms;
    }

    private static double p(double[] ms, double q) {
        double[] s = ms.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) Math.ceil(q * s.length) - 1)];
    }
}
