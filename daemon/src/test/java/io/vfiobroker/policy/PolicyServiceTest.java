package io.vfiobroker.policy;

import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.inventory.InventoryScanner;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

class PolicyServiceTest {

    @TempDir
    Path dir;
    Path root;
    InventoryScanner scanner;
    Path file;
    PolicyService service;

    static final String GOOD = """
            version: 1
            rules:
              - name: edu
                action: allow
                devices: {vendorDevice: "1234:11e8"}
                principals: {uid: 1000}
            """;

    @BeforeEach
    void host() {
        root = Hosts.generate(dir.resolve("host"), HostSpec.Iommu.INTEL_IR);
        scanner = Hosts.scanner(root);
        file = dir.resolve("etc/policy.yaml");
    }

    @AfterEach
    void close() {
        if (service != null) service.close();
    }

    private void write(String text) throws Exception {
        Files.createDirectories(file.getParent());
        // Write-then-rename, as editors and config managers do: readers never see half a file.
        Path tmp = file.resolveSibling(".policy.tmp");
        Files.writeString(tmp, text);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Waits for a condition the watcher thread brings about; the deadline only bounds a failure. */
    private static void await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("condition not reached within 10 s");
            Thread.sleep(20);
        }
    }

    @Test
    void aMissingFileIsDefaultDenyWithAClearStatusNotACrash() {
        service = new PolicyService(file, scanner);
        LoadStatus st = service.status();
        assertThat(st.state()).isEqualTo(LoadStatus.State.MISSING);
        assertThat(st.message()).isEqualTo(file + " does not exist: no policy, every request is refused (default deny)");
        assertThat(service.current().rules()).isEmpty();
        assertThat(service.decide(Principal.of(1000, 1000), Hosts.EDU).rule()).isEqualTo(Decision.DEFAULT_DENY);
    }

    @Test
    void aGoodFileIsLoadedAndDecides() throws Exception {
        write(GOOD);
        service = new PolicyService(file, scanner);
        assertThat(service.status().state()).isEqualTo(LoadStatus.State.LOADED);
        assertThat(service.status().activeRules()).isEqualTo(1);
        assertThat(service.status().activeSha256()).hasSize(64);
        assertThat(service.decide(Principal.of(1000, 1000), Hosts.EDU).allowed()).isTrue();
        Explanation e = service.explain(Principal.of(1000, 1000), Hosts.EDU);
        assertThat(e.principal().userName()).isEqualTo("alice");
    }

    @Test
    void aBadNewFileIsRejectedAndTheOldOneStaysInForce() throws Exception {
        write(GOOD);
        service = new PolicyService(file, scanner);
        String sha = service.status().activeSha256();
        write(GOOD.replace("uid: 1000", "uid: alice") + "colour: blue\n");
        LoadStatus st = service.reload();
        assertThat(st.state()).isEqualTo(LoadStatus.State.REJECTED);
        assertThat(st.errors()).extracting(PolicyError::line).containsExactly(6, 7);
        assertThat(st.errors()).extracting(PolicyError::key).containsExactly("rules[0].principals.uid", "colour");
        assertThat(st.message()).contains("was rejected (2 errors); the policy loaded at").contains("stays in force");
        assertThat(st.activeSha256()).isEqualTo(sha);
        assertThat(st.activeRules()).isEqualTo(1);
        assertThat(service.decide(Principal.of(1000, 1000), Hosts.EDU).allowed()).isTrue();
        // Fixing it puts the new file in force.
        write(GOOD.replace("uid: 1000", "uid: 1001"));
        assertThat(service.reload().state()).isEqualTo(LoadStatus.State.LOADED);
        assertThat(service.decide(Principal.of(1000, 1000), Hosts.EDU).allowed()).isFalse();
        assertThat(service.decide(Principal.of(1001, 1001), Hosts.EDU).allowed()).isTrue();
    }

    @Test
    void aBadFileWhileNothingWasLoadedKeepsDefaultDeny() throws Exception {
        write("version: 1\nrules: {}\n");
        service = new PolicyService(file, scanner);
        assertThat(service.status().state()).isEqualTo(LoadStatus.State.REJECTED);
        assertThat(service.status().message()).endsWith("default deny stays in force");
        assertThat(service.status().activeSha256()).isNull();
        assertThat(service.decide(Principal.of(1000, 1000), Hosts.EDU).rule()).isEqualTo(Decision.DEFAULT_DENY);
    }

    @Test
    void theWatcherReloadsOnChangeAndKeepsTheOldOneOnABadChange() throws Exception {
        write(GOOD);
        service = new PolicyService(file, scanner);
        service.startWatching(Duration.ofSeconds(30)); // long poll: only inotify can make this test pass in time
        write(GOOD.replace("uid: 1000", "uid: 1001"));
        await(() -> service.current().text().contains("uid: 1001"));
        assertThat(service.status().state()).isEqualTo(LoadStatus.State.LOADED);
        write("version: 1\nrules:\n  - name: x\n");
        await(() -> service.status().state() == LoadStatus.State.REJECTED);
        assertThat(service.current().text()).contains("uid: 1001");
        Files.delete(file);
        await(() -> service.status().state() == LoadStatus.State.MISSING);
        assertThat(service.current().rules()).isEmpty();
    }

    @Test
    void aConfigMapStyleSymlinkSwapIsNoticed() throws Exception {
        // Kubernetes mounts policy.yaml -> ..data/policy.yaml and updates by re-pointing ..data.
        Path cm = dir.resolve("cm");
        Files.createDirectories(cm.resolve("v1"));
        Files.createDirectories(cm.resolve("v2"));
        Files.writeString(cm.resolve("v1/policy.yaml"), GOOD);
        Files.writeString(cm.resolve("v2/policy.yaml"), GOOD.replace("uid: 1000", "uid: 1001"));
        Files.createSymbolicLink(cm.resolve("..data"), Path.of("v1"));
        Files.createSymbolicLink(cm.resolve("policy.yaml"), Path.of("..data/policy.yaml"));
        service = new PolicyService(cm.resolve("policy.yaml"), scanner);
        service.startWatching(Duration.ofSeconds(30));
        Files.createSymbolicLink(cm.resolve("..data_tmp"), Path.of("v2"));
        Files.move(cm.resolve("..data_tmp"), cm.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
        await(() -> service.current().text().contains("uid: 1001"));
    }

    @Test
    void pollingAloneCatchesAFileInADirectoryThatAppearsLater() throws Exception {
        service = new PolicyService(file, scanner); // etc/ does not exist: nothing to watch yet
        service.startWatching(Duration.ofMillis(50));
        write(GOOD);
        await(() -> service.status().state() == LoadStatus.State.LOADED);
    }

    @Test
    void sighupReloads() throws Exception {
        write(GOOD);
        service = new PolicyService(file, scanner);
        sun.misc.Signal hup = new sun.misc.Signal("HUP");
        sun.misc.SignalHandler previous = sun.misc.Signal.handle(hup, sun.misc.SignalHandler.SIG_DFL);
        try {
            assertThat(service.installSighup()).as("SIGHUP handler installed; false when this JVM was started with SIGHUP ignored (nohup)").isTrue();
            write(GOOD.replace("uid: 1000", "uid: 1001"));
            assertThat(service.current().text()).contains("uid: 1000"); // nothing watches: only the signal reloads
            sun.misc.Signal.raise(hup);
            await(() -> service.current().text().contains("uid: 1001"));
        } finally {
            sun.misc.Signal.handle(hup, previous);
        }
    }

    @Test
    void concurrentDecisionsDuringReloadsSeeWholePolicies() throws Exception {
        write(GOOD);
        service = new PolicyService(file, scanner);
        var inv = scanner.scan();
        int workers = 4;
        var pool = java.util.concurrent.Executors.newFixedThreadPool(workers);
        try {
            var stop = new java.util.concurrent.atomic.AtomicBoolean();
            var decisions = new java.util.concurrent.atomic.AtomicLong();
            var allowed = new java.util.concurrent.atomic.AtomicLong();
            var denied = new java.util.concurrent.atomic.AtomicLong();
            List<java.util.concurrent.Future<Long>> futures = new java.util.ArrayList<>();
            for (int t = 0; t < workers; t++) {
                futures.add(pool.submit(() -> {
                    long mine = 0;
                    while (!stop.get()) {
                        Decision d = service.decide(Principal.of(1000, 1000), Hosts.EDU, inv);
                        // Either file grants uid 1000 or nobody: never an error, never a half-state.
                        if (d.rule().equals("edu")) allowed.incrementAndGet();
                        else if (d.rule().equals(Decision.DEFAULT_DENY)) denied.incrementAndGet();
                        else throw new AssertionError("a decision from neither policy: " + d);
                        mine++;
                        decisions.incrementAndGet();
                    }
                    return mine;
                }));
            }
            int reloads = 40;
            for (int i = 0; i < reloads; i++) {
                write(i % 2 == 0 ? GOOD.replace("uid: 1000", "uid: 1001") : GOOD);
                service.reload();
                // At most one decision per worker was already running: one more than that started after the reload.
                long seen = decisions.get();
                await(() -> decisions.get() > seen + workers);
            }
            stop.set(true);
            long total = 0;
            for (var f : futures) {
                long mine = f.get(10, TimeUnit.SECONDS); // rethrows whatever decide() threw in that worker
                assertThat(mine).as("every worker decided").isPositive();
                total += mine;
            }
            assertThat(total).isEqualTo(decisions.get()).isEqualTo(allowed.get() + denied.get());
            assertThat(total).isGreaterThan((long) reloads * workers);
            // Each file was in force while decisions were made after its reload: both outcomes occurred.
            assertThat(allowed.get()).isPositive();
            assertThat(denied.get()).isPositive();
        } finally {
            pool.shutdownNow();
        }
    }
}
