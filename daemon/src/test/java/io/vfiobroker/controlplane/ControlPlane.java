package io.vfiobroker.controlplane;

import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.vfiobroker.accounting.AccountingService;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.client.UnixChannels;
import io.vfiobroker.config.ControlPlaneConfiguration;
import io.vfiobroker.core.CoreWiring;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.events.EventSources;
import io.vfiobroker.grpc.AccountingGrpcService;
import io.vfiobroker.grpc.Authz;
import io.vfiobroker.grpc.BindingsGrpcService;
import io.vfiobroker.grpc.EventsGrpcService;
import io.vfiobroker.grpc.GrpcMetricsInterceptor;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.grpc.InventoryGrpcService;
import io.vfiobroker.grpc.PolicyGrpcService;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.hotplug.UeventHandler;
import io.vfiobroker.inventory.InventoryCache;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.HandoverFd;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.metrics.BrokerMetrics;
import io.vfiobroker.nativeshim.Uevent;
import io.vfiobroker.policy.PolicyService;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

/**
 * The whole control plane on a generated demo host, as the daemon wires it (minus Spring): simulated kernel,
 * policy, binding, leases with a domain opener that opens nothing, bus, cache, hotplug handler, accounting,
 * metrics, and optionally the gRPC server on a real Unix socket.
 */
public final class ControlPlane implements AutoCloseable {

    public static final String POLICY = """
            version: 1
            rules:
              - name: nobody-vfs
                action: allow
                devices:
                  vendorDevice: "8086:154c"
                principals:
                  uid: 65534
                limits:
                  maxDevices: 2
                  memlockPerLease: unlimited
              - name: root-edu
                action: allow
                devices:
                  vendorDevice: "1234:11e8"
                principals:
                  uid: 0
                limits:
                  memlockPerLease: 4MiB
            """;

    public final Path dir;
    public final Path root;
    public final SimulatedKernelHost host;
    public final InventoryScanner scanner;
    public final PolicyService policy;
    public final BindingService binding;
    public final AuditLog audit;
    public final LeaseService leases;
    public final EventBus bus;
    public final InventoryCache cache;
    public final DeviceProvisioning core;
    public final UeventHandler hotplug;
    public final AccountingService accounting;
    public final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    public final BrokerMetrics metrics;
    public GrpcServer grpc;

    public ControlPlane(EventBus bus) throws IOException {
        // Short, world-traversable paths: socket paths are limited to 108 bytes and uid 65534 must reach them.
        dir = Files.createTempDirectory(Path.of("/tmp"), "vb-cp-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        root = HostTreeGenerator.generate(HostSpec.demo(), dir.resolve("host"));
        host = new SimulatedKernelHost(root);
        scanner = new InventoryScanner(host, PciIds.empty());
        Path policyFile = dir.resolve("policy.yaml");
        Files.writeString(policyFile, POLICY);
        policy = new PolicyService(policyFile, scanner);
        Path state = dir.resolve("state");
        binding = new BindingService(host, scanner, new Journal(state), () -> BindingRules.of(policy.current()));
        audit = new AuditLog(state);
        leases = new LeaseService(host, scanner, binding, policy, new NoFds(), new Memlock(), audit, Duration.ofSeconds(30));
        io.vfiobroker.config.BrokerConfiguration.nameLeaseUsers(binding, leases);
        this.bus = bus;
        cache = new InventoryCache(scanner);
        core = CoreWiring.provisioning(scanner, cache, binding, audit, policy);
        EventSources.connect(bus, leases, binding, policy, cache);
        hotplug = new UeventHandler(cache, bus, leases);
        accounting = new AccountingService(() -> ControlPlaneConfiguration.holdings(leases), new Memlock(),
                c -> bus.publish(BrokerEvent.MemlockThreshold.of(c)), audit, 0.9);
        leases.addListener(l -> accounting.sampleSoon());
        metrics = new BrokerMetrics(registry, cache, leases, accounting, bus);
    }

    public ControlPlane() throws IOException {
        this(new EventBus());
    }

    public Authz authz() {
        return Authz.rootOnly();
    }

    /** Starts the gRPC server on dir/run/api.sock with every service, metered like the daemon's. */
    public Path serveGrpc(Authz authz) throws IOException {
        Path run = dir.resolve("run");
        Files.createDirectories(run);
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        ControlPlaneConfiguration.GrpcServices services = new ControlPlaneConfiguration.GrpcServices(authz, List.<BindableService>of(
                new InventoryGrpcService(core, leases, authz), new PolicyGrpcService(policy, core, authz),
                new AccountingGrpcService(accounting, authz), new EventsGrpcService(bus, authz),
                new BindingsGrpcService(core, authz)), new GrpcMetricsInterceptor(registry));
        grpc = new GrpcServer(run.resolve("api.sock"), services.withLeases(leases, run.resolve("fd.sock")));
        return run.resolve("api.sock");
    }

    /** A uevent exactly as the kernel sends it (header, then NUL-separated KEY=VALUE), parsed by the production parser. */
    public static Uevent uevent(String action, String address, String... extra) {
        String devpath = "/devices/pci0000:00/" + address;
        StringBuilder sb = new StringBuilder(action).append('@').append(devpath).append('\0')
                .append("ACTION=").append(action).append('\0').append("DEVPATH=").append(devpath).append('\0')
                .append("SUBSYSTEM=pci").append('\0').append("PCI_SLOT_NAME=").append(address).append('\0').append("SEQNUM=1").append('\0');
        for (String e : extra) sb.append(e).append('\0');
        byte[] b = sb.toString().getBytes(StandardCharsets.UTF_8);
        return Uevent.parse(b, b.length);
    }

    /** Takes a function out of the tree as hot removal does: the bus link and the device directory go. */
    public void unplug(String address) throws IOException {
        Path link = root.resolve("sys/bus/pci/devices/" + address);
        Path real = link.toRealPath();
        Files.delete(link);
        deleteTree(real);
    }

    public static ManagedChannel channel(Path socket, EventLoopGroup[] groupOut) {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        groupOut[0] = group;
        return UnixChannels.builder(socket).eventLoopGroup(group).build();
    }

    public static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        }
    }

    public static PciAddress pci(String s) {
        return PciAddress.parse(s);
    }

    @Override
    public void close() throws IOException {
        if (grpc != null) grpc.close();
        accounting.close();
        leases.close();
        policy.close();
        deleteTree(dir);
    }

    /** Opens no VFIO domain: the tests here are about the control plane, not the ioctls. */
    static final class NoFds implements DomainOpener {
        public List<io.vfiobroker.domain.Backend> availableBackends() {
            return List.of(io.vfiobroker.domain.Backend.LEGACY, io.vfiobroker.domain.Backend.IOMMUFD);
        }

        public DeviceDomain open(List<Member> devices, io.vfiobroker.domain.Backend backend) {
            return new DeviceDomain() {
                public io.vfiobroker.domain.Backend backend() {
                    return backend;
                }

                public List<HandoverFd> fds() {
                    return List.of();
                }

                public List<String> resetDevices() {
                    return devices.stream().map(m -> m.address().toString()).toList();
                }

                public void close() {
                }
            };
        }
    }
}
