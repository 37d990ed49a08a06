package io.vfiobroker.binding;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * vfio-pci's unbind does not return while an fd of the device is open. A group whose release (or bind) waits there
 * must hold up only itself: other groups bind and release, and reconcile, running meanwhile on other threads, leaves
 * the transaction in flight alone. The simulated kernel blocks an unbind while {@code .sim/block/<address>} exists.
 */
@Timeout(120)
class BlockedUnbindTest {

    private static final long WAIT_S = 10;

    @TempDir
    Path dir;
    Path root;
    InventoryScanner scanner;
    Device a;
    Device b;
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() throws IOException {
        if (a != null) Files.deleteIfExists(root.resolve(".sim/block/" + a.address())); // never leave a worker waiting
        pool.shutdownNow();
    }

    private BindingService service(SimulatedKernelHost host) {
        scanner = new InventoryScanner(host, PciIds.empty());
        List<Device> vfs = scanner.scan().devices().stream().filter(Device::isVirtualFunction).toList();
        a = vfs.get(0);
        b = vfs.get(1);
        assertThat(a.iommuGroup()).isNotEqualTo(b.iommuGroup());
        return new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.DEFAULT);
    }

    private BindingService service() {
        root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2), dir.resolve("host"));
        return service(new SimulatedKernelHost(root));
    }

    private Device now(Device d) {
        return scanner.device(d.address()).orElseThrow();
    }

    private void block(Device d) throws IOException {
        Files.createDirectories(root.resolve(".sim/block"));
        Files.writeString(root.resolve(".sim/block/" + d.address()), "");
    }

    private <T> CompletableFuture<T> async(Supplier<T> work) {
        return CompletableFuture.supplyAsync(work, pool);
    }

    /** Waits until {@code done} holds: the other thread has reached the step that blocks. */
    private static void await(Supplier<Boolean> done) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_S);
        while (!done.get()) {
            assertThat(System.nanoTime()).as("waited %d s", WAIT_S).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private Journal.State replayed() {
        return Journal.replay(new Journal(dir.resolve("state")).readAll());
    }

    /** The blocked operation on a completes: a ends on {@code driver}, {@code owned} are ours, no transaction is open. */
    private void completes(CompletableFuture<BindingPlan> op, BindingService s, String driver, Device... owned) throws Exception {
        op.get(WAIT_S, TimeUnit.SECONDS);
        assertThat(now(a).driver()).isEqualTo(driver);
        assertThat(s.status()).containsOnlyKeys(java.util.Arrays.stream(owned).map(Device::address).toList());
        assertThat(replayed().unfinished()).isEmpty();
    }

    @Test
    void aReleaseBlockedInUnbindHoldsUpOnlyItsOwnGroup() throws Exception {
        BindingService s = service();
        s.bind(a.address(), false);
        block(a);
        CompletableFuture<BindingPlan> releaseA = async(() -> s.release(a.iommuGroup(), true, false));
        // Its override is cleared just before the unbind: from here on the release waits in the kernel.
        await(() -> now(a).driverOverride() == null);
        Thread.sleep(100);
        assertThat(releaseA).isNotDone();

        async(() -> s.bind(b.address(), false)).get(WAIT_S, TimeUnit.SECONDS);
        assertThat(now(b).driver()).isEqualTo("vfio-pci");
        async(() -> s.release(b.iommuGroup(), true, false)).get(WAIT_S, TimeUnit.SECONDS);
        assertThat(now(b).driver()).isEqualTo("iavf");
        assertThat(async(s::reconcile).get(WAIT_S, TimeUnit.SECONDS)).isEmpty();

        // b's release compacted the journal, and kept a's open release: a restart now would still finish it.
        Journal.State mid = replayed();
        assertThat(mid.owned()).containsOnlyKeys(a.address());
        assertThat(mid.unfinished().values()).singleElement().satisfies(t -> assertThat(t.get(0).op()).isEqualTo(Journal.Op.RELEASE));
        assertThat(now(a).driver()).isEqualTo("vfio-pci");
        assertThat(releaseA).isNotDone();

        Files.delete(root.resolve(".sim/block/" + a.address()));
        completes(releaseA, s, "iavf");
        assertThat(now(a).driverOverride()).isNull();
        assertThat(replayed().owned()).isEmpty();
        assertThat(service(new SimulatedKernelHost(root)).reconcile()).as("a restart finds nothing to do").isEmpty();
    }

    @Test
    void reconcileLeavesABindBlockedInUnbindAlone() throws Exception {
        BindingService s = service();
        block(a); // the bind's unbind from iavf: a has vfio-pci as its override and its bind is journaled but open
        CompletableFuture<BindingPlan> bindA = async(() -> s.bind(a.address(), false));
        await(() -> "vfio-pci".equals(now(a).driverOverride()));
        Thread.sleep(100);

        assertThat(async(s::reconcile).get(WAIT_S, TimeUnit.SECONDS)).isEmpty();
        assertThat(replayed().unfinished().values()).singleElement().satisfies(t -> assertThat(t).noneMatch(
                e -> e.phase() == Journal.Phase.ROLLBACK));
        assertThat(now(a).driverOverride()).isEqualTo("vfio-pci");
        assertThat(bindA).isNotDone();

        Files.delete(root.resolve(".sim/block/" + a.address()));
        completes(bindA, s, "vfio-pci", a);
    }

    @Test
    void reconcileDoesNotRebindADeviceThatIsDriverlessMidRelease() throws Exception {
        root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2), dir.resolve("host"));
        java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
        CountDownLatch unbound = new CountDownLatch(1);
        CountDownLatch go = new CountDownLatch(1);
        // A kernel whose unbind of a detaches the driver and only then waits: a is ours, in flight and driverless.
        SimulatedKernelHost host = new SimulatedKernelHost(root) {
            @Override
            public void write(String path, String value) throws IOException {
                super.write(path, value);
                if (path.endsWith("/unbind") && value.strip().equals(a.address().toString()) && armed.getAndSet(false)) {
                    unbound.countDown();
                    try {
                        go.await();
                    } catch (InterruptedException e) {
                        throw new java.io.InterruptedIOException();
                    }
                }
            }
        };
        BindingService s = service(host);
        s.bind(a.address(), false);
        armed.set(true);
        CompletableFuture<BindingPlan> releaseA = async(() -> s.release(a.iommuGroup(), true, false));
        try {
            assertThat(unbound.await(WAIT_S, TimeUnit.SECONDS)).isTrue();
            assertThat(now(a).driver()).isNull();

            assertThat(async(s::reconcile).get(WAIT_S, TimeUnit.SECONDS)).isEmpty();
            assertThat(now(a).driver()).as("not re-bound behind the release's back").isNull();
            assertThat(now(a).driverOverride()).isNull();
            assertThat(replayed().unfinished()).hasSize(1);
            // Another group's change runs its own reconcile first: it leaves a alone too.
            async(() -> s.bind(b.address(), false)).get(WAIT_S, TimeUnit.SECONDS);
            assertThat(now(a).driver()).isNull();
        } finally {
            go.countDown();
        }
        completes(releaseA, s, "iavf", b);
    }

    @Test
    void aTransactionLeftOpenByAFailedThreadIsSettledByTheNextChange() throws Exception {
        BindingService s = service();
        s.bind(a.address(), false);
        // A thread that dies inside a release leaves the transaction open, as a crash would.
        SimulatedKernelHost dying = new SimulatedKernelHost(root) {
            @Override
            public void write(String path, String value) throws IOException {
                if (path.endsWith("/unbind")) throw new BindingServiceTest.Crash();
                super.write(path, value);
            }
        };
        BindingService sharedJournal = new BindingService(dying, scanner, s.journal(), () -> BindingRules.DEFAULT);
        CompletableFuture<BindingPlan> died = async(() -> sharedJournal.release(a.iommuGroup(), true, false));
        assertThat(died).failsWithin(WAIT_S, TimeUnit.SECONDS);
        assertThat(s.journal().orphans()).hasSize(1);

        assertThat(s.reconcile()).singleElement().asString().contains("interrupted release of group " + a.iommuGroup() + " finished");
        assertThat(now(a).driver()).isEqualTo("iavf");
        assertThat(s.status()).isEmpty();
        assertThat(replayed().unfinished()).isEmpty();
    }
}
