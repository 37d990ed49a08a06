package io.vfiobroker.bench;

import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.host.LinuxSysfsHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Full inventory of a generated 64 PF x 128 VF host (one group each) against pciutils' lspci on the same tree.
 * Target: ours <= 0.5 x lspci, in a warm JVM. Usage: InventoryBench [treeDir] [runs].
 */
public final class InventoryBench {

    public static void main(String[] args) throws Exception {
        Path tree = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("vfio-broker-bench-").resolve("host");
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        if (!Files.isDirectory(tree.resolve("sys"))) {
            long t0 = System.nanoTime();
            HostTreeGenerator.generate(HostSpec.sriovScale(64, 128), tree);
            System.out.printf("generated %s in %.1f s%n", tree, (System.nanoTime() - t0) / 1e9);
        }
        InventoryScanner scanner = new InventoryScanner(new LinuxSysfsHost(tree), PciIds.system());
        HostInventory inv = null;
        for (int i = 0; i < 5; i++) inv = scanner.scan(); // warm-up: JIT, pci.ids, dentry cache
        long vfs = inv.devices().stream().filter(d -> d.physicalFunction() != null).count();
        if (vfs != 64 * 128) throw new IllegalStateException("expected 8192 VFs, inventory saw " + vfs);

        double[] ours = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t = System.nanoTime();
            inv = scanner.scan();
            ours[i] = (System.nanoTime() - t) / 1e6;
        }

        String[] lspci = {"lspci", "-D", "-vmm", "-A", "linux-sysfs", "-O", "sysfs.path=" + tree.resolve("sys/bus/pci")};
        long lspciDevices = run(lspci); // warm-up, and a check that lspci really read the tree
        if (lspciDevices != inv.devices().size()) {
            throw new IllegalStateException("lspci saw " + lspciDevices + " devices, inventory " + inv.devices().size());
        }
        double[] theirs = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t = System.nanoTime();
            run(lspci);
            theirs[i] = (System.nanoTime() - t) / 1e6;
        }
        double a = median(ours);
        double b = median(theirs);
        System.out.printf("devices: %d (%d VFs), groups: %d, runs: %d%n", inv.devices().size(), vfs, inv.groups().size(), runs);
        System.out.printf("vfio-broker full inventory: median %.1f ms (min %.1f)%n", a, Arrays.stream(ours).min().orElse(0));
        System.out.printf("lspci -D -vmm (pciutils):   median %.1f ms (min %.1f)%n", b, Arrays.stream(theirs).min().orElse(0));
        System.out.printf("ratio ours/lspci: %.2f (target <= 0.50) %s%n", a / b, a / b <= 0.5 ? "MET" : "NOT MET");
    }

    /** Runs lspci and returns how many devices it printed. */
    private static long run(String[] cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        long slots;
        try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
            slots = r.lines().filter(l -> l.startsWith("Slot:")).count();
        }
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException("lspci failed");
        return slots;
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
