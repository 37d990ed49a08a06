package io.vfiobroker.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Drives e2e/vm/*.sh: makes sure tools and kernels are there, boots one time-boxed VM per call and
 * hands back its results directory. All real work is in the scripts so a developer can run the same
 * boot by hand (see e2e/README.md).
 */
public final class VmHarness {

    private static final Path MODULE_DIR = Path.of(System.getProperty("e2e.moduleDir", "")).toAbsolutePath();
    private static final Path VM_DIR = MODULE_DIR.resolve("vm");
    private static final Path RESULTS_ROOT = Path.of(System.getProperty("e2e.resultsDir",
            MODULE_DIR.resolve("target/vm-results").toString()));
    private static final Path CACHE = Path.of(System.getenv().getOrDefault("VFIO_BROKER_E2E_CACHE",
            "/var/cache/vfio-broker-e2e"));
    private static final Path DAEMON_JAR = MODULE_DIR.resolve("../daemon/target/vfio-broker-exec.jar").normalize();

    private static boolean prepared;
    private static RuntimeException prepareFailure;   // reported to every test, not retried per test

    private VmHarness() {
    }

    /**
     * Fails (never skips) when QEMU is missing; runs prepare.sh when a kernel is not cached yet, so a
     * fresh machine with the tools gets its kernels on the first test run.
     */
    public static synchronized void ensurePrepared() {
        if (prepared) return;
        if (prepareFailure != null) throw prepareFailure;
        try {
            prepare();
        } catch (RuntimeException e) {
            prepareFailure = e;
            throw e;
        }
        prepared = true;
    }

    private static void prepare() {
        if (!onPath("qemu-system-x86_64")) {
            throw new IllegalStateException("qemu-system-x86_64 not found: the VM tests cannot run. "
                    + "Run e2e/vm/prepare.sh as root (the README test command does) to install it and cache the kernels.");
        }
        if (!Files.isRegularFile(DAEMON_JAR)) {
            throw new IllegalStateException("no daemon jar at " + DAEMON_JAR + ": build the daemon module first");
        }
        boolean cached = Kernel.selected().stream().allMatch(k -> Files.isDirectory(CACHE.resolve(k.cacheName())));
        if (!cached) {
            Path log = RESULTS_ROOT.resolve("prepare.log");
            System.out.println("[e2e] kernels not cached in " + CACHE + ": running e2e/vm/prepare.sh "
                    + "(the first iommufd kernel build takes 5-12 minutes), log: " + log);
            int rc = run(List.of(VM_DIR.resolve("prepare.sh").toString()), log, Duration.ofMinutes(40));
            if (rc != 0) {
                throw new IllegalStateException("e2e/vm/prepare.sh failed (exit " + rc + "), see " + log + ":\n" + tail(log, 30));
            }
        }
    }

    /** Where a prepared kernel's files are (bzImage, config, and for the built one its exported uapi headers). */
    public static Path kernelDir(Kernel kernel) {
        ensurePrepared();
        return CACHE.resolve(kernel.cacheName());
    }

    /** Boots kernel × iommu, runs the scenario script e2e/vm/scenarios/NAME.sh, waits for power-off. */
    public static VmResult boot(Kernel kernel, Iommu iommu, String scenario, Duration timeout) {
        return boot(kernel, iommu, scenario, timeout, "");
    }

    /** As above; a non-empty variant keeps this boot's results apart from other boots of the same scenario. */
    public static VmResult boot(Kernel kernel, Iommu iommu, String scenario, Duration timeout, String variant) {
        ensurePrepared();
        Path results = RESULTS_ROOT.resolve(scenario + "-" + kernel.cacheName() + "-" + iommu.arg()
                + (variant.isEmpty() ? "" : "-" + variant));
        Path status = results.resolve("exit-status");
        // Re-checks the files of a boot already run (by hand, with run-vm.sh and the same results dir) without booting.
        if (Boolean.getBoolean("e2e.reuseResults") && Files.isRegularFile(status)) {
            try {
                int rc = Integer.parseInt(Files.readString(status).strip());
                System.out.println("[e2e] reusing " + results + " (exit " + rc + "), -De2e.reuseResults=true");
                return new VmResult(kernel, iommu, scenario, results, rc, Duration.ZERO);
            } catch (IOException | NumberFormatException e) {
                throw new IllegalStateException("cannot reuse " + results + ": " + e.getMessage(), e);
            }
        }
        try {
            deleteTree(results);
            Files.createDirectories(results);
        } catch (IOException e) {
            throw new IllegalStateException("cannot prepare " + results, e);
        }
        List<String> cmd = new ArrayList<>(List.of(VM_DIR.resolve("run-vm.sh").toString(),
                "--kernel", kernel.cacheName(), "--iommu", iommu.arg(), "--scenario", scenario,
                "--results", results.toString(), "--timeout", Long.toString(timeout.toSeconds()),
                "--java-home", guestJavaHome()));
        long started = System.nanoTime();
        // The script enforces the timeout; ours only guards against the script itself hanging.
        int rc = run(cmd, results.resolveSibling(results.getFileName() + ".run.log"), timeout.plusSeconds(60));
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        try {
            Files.writeString(results.resolve("boot-seconds"), took.toSeconds() + "\n");   // read by the README's timings
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + results.resolve("boot-seconds"), e);
        }
        return new VmResult(kernel, iommu, scenario, results, rc, took);
    }

    /** The JDK the guest runs the daemon with: this test JVM's (release 17+), shared from the host. */
    private static String guestJavaHome() {
        return System.getProperty("e2e.guestJavaHome", System.getProperty("java.home"));
    }

    private static int run(List<String> cmd, Path log, Duration limit) {
        try {
            Files.createDirectories(log.getParent());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IllegalStateException(cmd.get(0) + " did not end within " + limit + ", see " + log);
            }
            return p.exitValue();
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + cmd, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + cmd, e);
        }
    }

    private static boolean onPath(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(dir, tool))) return true;
        }
        return false;
    }

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(" + file + " unreadable: " + e.getMessage() + ")";
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted((a, b) -> b.compareTo(a)).toList()) Files.delete(p);
        }
    }
}
