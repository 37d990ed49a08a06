package io.vfiobroker.bench;

import io.vfiobroker.lease.Caller;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Acquire → redeem → Release latency of the other groups while one lease is being taken back and its holder will not
 * let go: the broker must not stall behind it. Real: the lease service with its store, audit fsyncs, the holder scan of
 * /proc, a real holder process (sh holding the lease's file), real pidfds. Stood in: the VFIO calls are the kernel model's,
 * its fds small files (VfioKernelModel.standInFiles), sysfs is a generated tree with the simulated kernel. The group being taken back stays ENDING
 * for the whole run (grace 600 s, its holder alive); a holder the kernel keeps (STUCK) holds up nothing more.
 *
 * Usage: TakeBackBench [cycles]
 */
public final class TakeBackBench {

    public static void main(String[] args) throws Exception {
        int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        Path tmp = Path.of("/dev/shm").toFile().isDirectory() ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
        try (LeaseBench.Daemon d = new LeaseBench.Daemon(tmp, tmp)) {
            Path policy = d.dir.resolve("policy.yaml");
            Files.writeString(policy, Files.readString(policy).replace("version: 1\n", "version: 1\nleases:\n  revokeGraceSeconds: 600\n"));
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

            System.out.printf("take-back bench: %d acquire+redeem+release cycles over %d other groups, one client%n", cycles, others.size());
            System.out.printf("  alone                     : p50 %.3f ms, p99 %.3f ms%n", p(before, 0.5), p(before, 0.99));
            System.out.printf("  one group %-7s (holder alive): p50 %.3f ms, p99 %.3f ms  (p99 ratio %.2f)%n", state, p(during, 0.5), p(during, 0.99),
                    p(during, 0.99) / p(before, 0.99));
            System.out.println("  real: lease service, store, audit fsync, /proc holder scan, holder process; stood in: VFIO (files), sysfs (generated tree, simulated kernel)");
        }
    }

    private static double[] cycles(LeaseService leases, Caller self, List<String> vfs, int n) throws Exception {
        double[] ms = new double[n];
        for (int i = 0; i < n; i++) {
            long t0 = System.nanoTime();
            Map.Entry<Lease, String> g = leases.acquire(self, List.of(vfs.get(i % vfs.size())), null, 0);
            leases.redeem(g.getValue(), self).close();
            leases.release(g.getKey().id(), self);
            if (!leases.awaitEnded(g.getKey().id(), Duration.ofSeconds(10))) throw new IllegalStateException("lease did not end: " + g.getKey().id());
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        return ms;
    }

    private static double p(double[] ms, double q) {
        double[] s = ms.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) Math.ceil(q * s.length) - 1)];
    }
}
