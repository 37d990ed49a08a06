package io.vfiobroker.bench;

import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import tools.jackson.databind.json.JsonMapper;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Full inventory of a generated 64 PF × 128 VF host (one group each), two rows against pciutils on the same tree in the
 * same run, each pair alternated so both sides see the same load:
 * cold: a {@code bin/vfio-broker devices --json} process vs an {@code lspci -D -vmm} process (JVM start counts; target ≤ 1.0×);
 * warm: {@code GET /api/v1/devices} on a running {@code bin/vfio-broker daemon} vs the same lspci (target ≤ 0.5×).
 * Prints PASS or OVER and records the run in bench/results/inventory.json. Usage: InventoryBench [treeDir] [runs (10)].
 */
public final class InventoryBench {

    static final double COLD_TARGET = 1.0;
    static final double WARM_TARGET = 0.5;
    private static final JsonMapper JSON = JsonMapper.builder().build();

    public static void main(String[] args) throws Exception {
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        Path repo = Path.of(System.getProperty("bench.repo", ".")).toAbsolutePath();
        BenchResults results = BenchResults.open("inventory").param("runs", runs);
        RecordedRun.exec(results, "vb-inventory-", dir -> {
            Path tree = args.length > 0 ? Path.of(args[0]) : dir.resolve("host");
            results.param("tree", tree.toString());
            run(repo, dir, tree, runs, results);
            return 0;
        });
    }

    static void run(Path repo, Path dir, Path tree, int runs, BenchResults results) throws Exception {
        if (!Files.isDirectory(tree.resolve("sys"))) HostTreeGenerator.generate(HostSpec.sriovScale(64, 128), tree);
        List<String> lspci = List.of("lspci", "-D", "-vmm", "-A", "linux-sysfs", "-O", "sysfs.path=" + tree.resolve("sys/bus/pci"));
        List<String> cli = List.of(repo.resolve("bin/vfio-broker").toString(), "devices", "--json", "--root", tree.toString());
        long devices = lspciDevices(lspci); // also warms the dentry cache for both sides
        long ours = JSON.readTree(output(cli)).size();
        if (ours != devices) throw new IllegalStateException("lspci saw " + devices + " devices, vfio-broker devices " + ours);
        System.out.printf("tree %s: %d PCI devices (generated sysfs); lspci reads it with -A linux-sysfs -O sysfs.path=…%n", tree, devices);
        results.number("devices", devices);

        double[][] cold = alternate(runs, timed(() -> output(cli)), timed(() -> output(lspci)));
        row(results, "cold", "cold: `vfio-broker devices --json` process vs `lspci -D -vmm` process", cold, COLD_TARGET);

        Path policy = Files.writeString(dir.resolve("policy.yaml"), "version: 1\nrules: []\n");
        try (BrokerProcess d = new BrokerProcess(repo, tree, policy, dir.resolve("run"), dir.resolve("state"), dir.resolve("daemon.log"))) {
            long served = JSON.readTree(d.get("/api/v1/devices")).size();
            if (served != devices) throw new IllegalStateException("the daemon served " + served + " devices, lspci saw " + devices);
            for (int i = 0; i < 5; i++) d.get("/api/v1/devices"); // the daemon's JIT warm, as after a day of serving
            double[][] warm = alternate(runs, timed(() -> d.get("/api/v1/devices")), timed(() -> output(lspci)));
            row(results, "warm", "warm: daemon's GET /api/v1/devices vs `lspci -D -vmm` process", warm, WARM_TARGET);
        }
    }

    interface Timed {
        String call() throws Exception;
    }

    interface Measure {
        double ms() throws Exception;
    }

    private static Measure timed(Timed t) {
        return () -> {
            long t0 = System.nanoTime();
            t.call();
            return (System.nanoTime() - t0) / 1e6;
        };
    }

    /** ours and theirs, one after the other, {@code runs} times: [0] ours, [1] theirs, in ms. */
    private static double[][] alternate(int runs, Measure ours, Measure theirs) throws Exception {
        double[][] ms = new double[2][runs];
        for (int i = 0; i < runs; i++) {
            ms[0][i] = ours.ms();
            ms[1][i] = theirs.ms();
        }
        return ms;
    }

    private static void row(BenchResults results, String key, String what, double[][] ms, double target) {
        double ours = median(ms[0]);
        double theirs = median(ms[1]);
        double ratio = ours / theirs;
        boolean pass = ratio <= target;
        System.out.printf("%s%n  vfio-broker median %.1f ms (min %.1f), lspci median %.1f ms (min %.1f): %.2f×  %s (target ≤ %.1f×)%n", what, ours,
                Arrays.stream(ms[0]).min().orElse(0), theirs, Arrays.stream(ms[1]).min().orElse(0), ratio, pass ? "PASS" : "OVER", target);
        results.number(key + ".oursMedianMs", ours).number(key + ".lspciMedianMs", theirs).number(key + ".ratio", ratio)
                .param(key + ".verdict", pass ? "PASS" : "OVER");
    }

    private static long lspciDevices(List<String> lspci) throws Exception {
        return output(lspci).lines().filter(l -> l.startsWith("Slot:")).count();
    }

    /** Runs {@code cmd} to the end and returns its standard output. */
    private static String output(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            out = r.lines().collect(java.util.stream.Collectors.joining("\n"));
        }
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException(cmd.get(0) + " failed");
        return out;
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
