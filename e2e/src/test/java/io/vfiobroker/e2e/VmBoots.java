package io.vfiobroker.e2e;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * One boot per (scenario, kernel, iommu), shared by every test that asserts on it, with up to
 * e2e.parallelVms VMs running at once (each is single-vCPU TCG, so one host core each).
 * A test class submits the boots it needs up front, then each test waits for its own.
 */
public final class VmBoots {

    private static final int PARALLEL = Integer.getInteger("e2e.parallelVms",
            Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors())));
    private static final ExecutorService POOL = Executors.newFixedThreadPool(PARALLEL, r -> {
        Thread t = new Thread(r, "vm-boot");
        t.setDaemon(true);
        return t;
    });
    private static final Map<String, CompletableFuture<VmResult>> BOOTS = new ConcurrentHashMap<>();

    private VmBoots() {
    }

    /** Starts the boot in the background unless it already ran or is running. */
    public static void submit(String scenario, Kernel kernel, Iommu iommu, Duration timeout) {
        VmHarness.ensurePrepared();   // once, before the pool starts several boots
        BOOTS.computeIfAbsent(key(scenario, kernel, iommu),
                k -> CompletableFuture.supplyAsync(() -> VmHarness.boot(kernel, iommu, scenario, timeout), POOL));
    }

    /** The finished boot (starting it now if nobody submitted it). */
    public static VmResult get(String scenario, Kernel kernel, Iommu iommu, Duration timeout) {
        submit(scenario, kernel, iommu, timeout);
        try {
            return BOOTS.get(key(scenario, kernel, iommu)).get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String key(String scenario, Kernel kernel, Iommu iommu) {
        return scenario + "/" + kernel + "/" + iommu;
    }
}
