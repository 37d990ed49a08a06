package io.vfiobroker.config;

import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.core.CoreWiring;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.binding.OwnerLock;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.protect.ProtectionScanner;
import io.vfiobroker.hostgen.DemoHosts;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.json.DomainJson;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import tools.jackson.databind.JacksonModule;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** Wires the host port: the real root, or a demo tree generated at start-up. */
@Configuration(proxyBeanMethods = false)
public class HostConfiguration {

    private static final Logger log = LoggerFactory.getLogger(HostConfiguration.class);

    /**
     * The demo's directory ({@code vfio-broker.demo-dir}, else a new temporary one): world-traversable (0755), so any
     * local user can reach the sockets below it as they would /run/vfio-broker, and deleted when the daemon stops.
     * Every bean that uses the host depends on it, so Spring closes them first.
     */
    public static final class DemoTree implements AutoCloseable {
        private final Path dir;

        DemoTree(Path dir) {
            this.dir = dir;
        }

        /** The generated host root, or null when this is not a demo. */
        public Path host() {
            return dir == null ? null : dir.resolve("host");
        }

        @Override
        public void close() {
            if (dir == null || !Files.exists(dir)) return;
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException | java.io.UncheckedIOException e) {
                log.warn("event=demo-cleanup-failed dir={} error=\"{}\"", dir, e.getMessage());
                return;
            }
            log.info("event=demo-removed dir={}", dir);
        }
    }

    @Bean(destroyMethod = "close")
    DemoTree demoTree(BrokerProperties props, @Value("${vfio-broker.demo-dir:}") String configured) throws IOException {
        if (!props.demo()) return new DemoTree(null);
        var open = PosixFilePermissions.fromString("rwxr-xr-x");
        Path dir = configured.isBlank() ? DemoHosts.newDirectory() : Files.createDirectories(Path.of(configured));
        Files.setPosixFilePermissions(dir, open); // a temporary directory is made 0700
        DemoTree tree = new DemoTree(dir);
        DemoHosts.await(tree.host()); // started by the daemon command, beside Spring's start
        Files.createDirectories(tree.host().resolve("run/vfio-broker"));
        for (Path p = tree.host().resolve("run/vfio-broker"); !p.equals(dir); p = p.getParent()) Files.setPosixFilePermissions(p, open);
        log.info("event=demo-host root={} try=\"vfio-broker client --run-dir {} ADDR (as any user the demo policy grants)\"",
                tree.host(), tree.host().resolve("run/vfio-broker"));
        return tree;
    }

    @Bean
    SysfsHost sysfsHost(BrokerProperties props, DemoTree demo) throws IOException {
        Path root = props.demo() ? demo.host() : props.root();
        log.info("event=host-root root={} simulated-kernel={}", root, props.demo() || props.simulateKernel());
        return CoreWiring.host(root, props.demo() || props.simulateKernel());
    }

    @Bean
    InventoryScanner inventoryScanner(SysfsHost host) {
        return CoreWiring.scanner(host);
    }

    @Bean
    Journal bindingJournal(BrokerProperties props, SysfsHost host) {
        return new Journal(props.stateDir() != null ? props.stateDir() : BrokerProperties.defaultStateDir(host));
    }

    /**
     * The daemon's hold on the state directory's {@link OwnerLock} for its whole life: while it is held the CLI asks
     * the daemon instead of changing bindings itself. A CLI run holding it at start-up only delays the hold.
     */
    static final class HeldOwnerLock implements AutoCloseable {
        private final Path stateDir;
        private volatile OwnerLock lock;
        private volatile boolean closed;
        private Thread retry;

        HeldOwnerLock(Path stateDir) {
            this.stateDir = stateDir;
            this.lock = OwnerLock.tryTake(stateDir).orElse(null);
            if (lock != null) return;
            log.warn("event=owner-lock-busy file={} detail=\"another process holds it (a CLI run, or a second daemon on this state "
                    + "directory); retrying every second\"", OwnerLock.file(stateDir));
            retry = new Thread(this::retry, "owner-lock");
            retry.setDaemon(true);
            retry.start();
        }

        private void retry() {
            while (!closed && lock == null) {
                try {
                    Thread.sleep(1000);
                } catch (InterruptedException e) {
                    return;
                }
                synchronized (this) {
                    if (!closed) lock = OwnerLock.tryTake(stateDir).orElse(null);
                }
            }
            if (lock != null) log.info("event=owner-lock-held file={}", OwnerLock.file(stateDir));
        }

        boolean held() {
            return lock != null;
        }

        @Override
        public synchronized void close() {
            closed = true;
            if (retry != null) retry.interrupt();
            if (lock != null) lock.close();
        }
    }

    @Bean(destroyMethod = "close")
    HeldOwnerLock ownerLock(Journal journal) {
        return new HeldOwnerLock(journal.file().getParent());
    }

    @Bean
    BindingService bindingService(SysfsHost host, InventoryScanner scanner, Journal journal, PolicyService policy,
                                  BrokerProperties props, HeldOwnerLock owner) {
        ProtectionScanner protection = CoreWiring.protection(host, props.hostProc());
        // Said at start, not at the first refused bind: a blind daemon refuses every bind until it is redeployed.
        protection.blindness();
        BindingService service = CoreWiring.binding(host, scanner, journal, policy::current, protection);
        // Whatever a crashed predecessor left half done is settled before anything else is served.
        service.reconcile();
        return service;
    }

    @Bean
    JacksonModule domainJsonModule() {
        return DomainJson.module();
    }
}
