package io.vfiobroker.bench;

import io.vfiobroker.iommu.VfioKernelModel;
import io.vfiobroker.iommu.VfioDomainOpener;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.api.v1.Event;
import io.vfiobroker.api.v1.EventsGrpc;
import io.vfiobroker.api.v1.WatchRequest;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.broker.FdSocketServer;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.events.BrokerEvent;
import io.vfiobroker.events.EventBus;
import io.vfiobroker.grpc.Authz;
import io.vfiobroker.grpc.EventsGrpcService;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.grpc.LeasesGrpcService;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.quota.QuotaProperties;
import io.vfiobroker.quota.Quotas;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * "Under load" (issue V9): a legitimate root client's acquire → redeem → release p99, first alone, then while uid 65534
 * keeps 64 idle fd.sock connections open (a Python process that reconnects each one the broker drops) and holds 64
 * Events.Watch streams (a JVM). Target: loaded p99 within 2x of unloaded.
 *
 * <p>Real: the fd.sock epoll loop and its quotas, SO_PEERCRED, gRPC over the Unix socket, the event bus and its
 * watchers (each lease change is offered to all 64, whose filter drops another uid's leases), the attacker's uid
 * and processes. Stood in: VFIO ioctls (files) and sysfs (a generated tree), as in LeaseBench.
 * Usage: AbuseBench [cycles (5000)]
 */
public final class AbuseBench {

    static final int HOSTILE_UID = 65534;
    static final int IDLE = 64;
    static final int STREAMS = 64;

    static final String HOLD_IDLE = """
            import socket, sys, select
            path, n = sys.argv[1], int(sys.argv[2])
            def conn():
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(path)
                return s
            socks = [conn() for _ in range(n)]
            print("connected", n, flush=True)
            try:
                while True:
                    r, _, _ = select.select(socks, [], [])
                    for s in r:
                        s.recv(4096)
                        s.close()
                        socks[socks.index(s)] = conn()
            except OSError:
                pass  # the broker went away: the bench is over
            """;

    public static void main(String[] args) {
        int code = 0;
        try {
            run(args);
        } catch (Exception | Error e) {
            e.printStackTrace();
            code = 1;
        }
        System.exit(code);
    }

    static void run(String[] args) throws Exception {
        if (System.getProperty("logback.configurationFile") == null) System.setProperty("logback.configurationFile", "lease-bench-logback.xml");
        int cycles = args.length > 0 ? Integer.parseInt(args[0]) : 5000;
        System.out.printf("cores: %d, java %s%n", Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "vbab-"); // uid 65534 must reach the sockets
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<Process> hostile = new ArrayList<>();
        try (Daemon d = new Daemon(dir)) {
            VfioBrokerClient client = VfioBrokerClient.connect(d.run);
            System.out.printf("warming up (%d cycles)...%n", 3 * cycles);
            for (int i = 0; i < 3 * cycles; i++) LeaseBench.cycle(client, d.vf, null);
            double[] alone = measure(client, d.vf, cycles);

            Path script = dir.resolve("hold-idle.py");
            Files.writeString(script, HOLD_IDLE);
            hostile.add(start(List.of("setpriv", "--reuid=" + HOSTILE_UID, "--regid=" + HOSTILE_UID, "--clear-groups", python(), script.toString(),
                    d.fdSocket.path().toString(), Integer.toString(IDLE)), "connected"));
            Path cp = worldReadableClassPath(dir.resolve("cp"));
            hostile.add(start(List.of("setpriv", "--reuid=" + HOSTILE_UID, "--regid=" + HOSTILE_UID, "--clear-groups",
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                    "-Dlogback.configurationFile=lease-bench-logback.xml", "-cp", cp + "/*", StreamHog.class.getName(), d.run.resolve("api.sock").toString(),
                    Integer.toString(STREAMS)), "started"));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (d.quotas.streams().open(HOSTILE_UID) < STREAMS || d.quotas.fdConnections().open(HOSTILE_UID) < IDLE / 2) {
                if (System.nanoTime() > deadline) throw new IllegalStateException("the attacker's streams and connections did not open: streams "
                        + d.quotas.streams().open(HOSTILE_UID) + ", fd.sock " + d.quotas.fdConnections().open(HOSTILE_UID));
                Thread.sleep(20);
            }
            long droppedBefore = d.fdSocket.stats().droppedIdle();
            long t0 = System.nanoTime();
            double[] loaded = measure(client, d.vf, cycles);
            double secs = (System.nanoTime() - t0) / 1e9;
            System.out.printf("attacker during the loaded run: %d Watch streams open, %d fd.sock connections open now, %d dropped idle and replaced"
                    + " (%.0f/s)%n", d.quotas.streams().open(HOSTILE_UID), d.quotas.fdConnections().open(HOSTILE_UID),
                    d.fdSocket.stats().droppedIdle() - droppedBefore, (d.fdSocket.stats().droppedIdle() - droppedBefore) / secs);
            client.close();

            System.out.printf("%n%-40s %10s %10s %10s%n", "acquire + redeem + release, 1 client", "p50 ms", "p99 ms", "max ms");
            print("unloaded", alone);
            print("under load (64 idle fd.sock + 64 Watch)", loaded);
            double ratio = p(loaded, 0.99) / p(alone, 0.99);
            System.out.printf("%n%-52s %s%n", String.format("loaded p99 within 2x of unloaded: %.2fx", ratio), ratio <= 2.0 ? "MET" : "NOT MET");
        } finally {
            for (Process p : hostile) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    private static String python() {
        return Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
    }

    private static double[] measure(VfioBrokerClient client, String vf, int cycles) {
        double[] ms = new double[cycles];
        for (int i = 0; i < cycles; i++) {
            long t = System.nanoTime();
            LeaseBench.cycle(client, vf, null);
            ms[i] = (System.nanoTime() - t) / 1e6;
        }
        Arrays.sort(ms);
        return ms;
    }

    private static double p(double[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }

    private static void print(String label, double[] ms) {
        System.out.printf("%-40s %10.3f %10.3f %10.3f%n", label, p(ms, 0.5), p(ms, 0.99), ms[ms.length - 1]);
    }

    private static Process start(List<String> cmd, String ready) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (line == null || !line.startsWith(ready)) throw new IllegalStateException(cmd.get(4) + ": " + line);
        Thread drain = new Thread(() -> {
            try {
                while (out.readLine() != null) {
                    // keep the pipe from filling
                }
            } catch (IOException ignored) {
                // killed
            }
        });
        drain.setDaemon(true);
        drain.start();
        return p;
    }

    /** The class path copied where uid 65534 can read it (Maven's repository is root's). */
    private static Path worldReadableClassPath(Path to) throws Exception {
        Files.createDirectories(to);
        for (String e : LeaseBench.childClassPath().split(java.io.File.pathSeparator)) {
            Path p = Path.of(e);
            if (Files.isRegularFile(p)) Files.copy(p, to.resolve(p.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            else if (Files.isDirectory(p)) {
                Path jar = to.resolve("dir-" + Math.abs(p.hashCode()) + ".jar");
                try (var out = new java.util.jar.JarOutputStream(Files.newOutputStream(jar)); Stream<Path> s = Files.walk(p)) {
                    for (Path f : s.filter(Files::isRegularFile).toList()) {
                        out.putNextEntry(new java.util.jar.JarEntry(p.relativize(f).toString()));
                        Files.copy(f, out);
                        out.closeEntry();
                    }
                }
            }
        }
        try (Stream<Path> s = Files.walk(to)) {
            for (Path f : s.toList()) Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(Files.isDirectory(f) ? "rwxr-xr-x" : "rw-r--r--"));
        }
        return to;
    }

    /** The attacker's stream side: n Watch streams held open, never read from beyond what arrives. */
    public static final class StreamHog {
        public static void main(String[] args) throws Exception {
            EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
            ManagedChannel ch = NettyChannelBuilder.forAddress(new DomainSocketAddress(args[0])).channelType(EpollDomainSocketChannel.class)
                    .eventLoopGroup(group).usePlaintext().build();
            for (int i = 0; i < Integer.parseInt(args[1]); i++) {
                EventsGrpc.newStub(ch).watch(WatchRequest.getDefaultInstance(), new StreamObserver<>() {
                    @Override
                    public void onNext(Event e) {
                    }

                    @Override
                    public void onError(Throwable t) {
                        System.out.println("refused " + t);
                    }

                    @Override
                    public void onCompleted() {
                    }
                });
            }
            System.out.println("started " + args[1]);
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    /** LeaseBench's daemon plus Events.Watch and the quotas, with room for the attacker's 64 + 64 within its per-uid caps. */
    static final class Daemon implements AutoCloseable {
        final Path run;
        final String vf;
        final LeaseService leases;
        final FdSocketServer fdSocket;
        final GrpcServer grpc;
        final PolicyService policy;
        final Quotas quotas;

        Daemon(Path dir) throws IOException {
            Path state = dir.resolve("state");
            Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2).withVfDriver("vfio-pci"), dir.resolve("host"));
            SimulatedKernelHost host = new SimulatedKernelHost(root);
            InventoryScanner scanner = new InventoryScanner(host, PciIds.empty());
            vf = scanner.deviceAddresses().stream().filter(a -> scanner.device(a).orElseThrow().boundTo("vfio-pci")).map(Object::toString)
                    .findFirst().orElseThrow();
            Path policyFile = dir.resolve("policy.yaml");
            Files.writeString(policyFile, LeaseHost.policy("unlimited"));
            policy = new PolicyService(policyFile, scanner);
            BindingService binding = new BindingService(host, scanner, new Journal(state), () -> BindingRules.of(policy.current()));
            leases = new LeaseService(host, scanner, binding, policy, new VfioDomainOpener(host, VfioKernelModel.of(host).standInFiles(dir.resolve("fake"))), new Memlock(),
                    new AuditLog(state), Duration.ofSeconds(10));
            EventBus bus = new EventBus(1024, 256);
            leases.addListener(l -> bus.publish(new BrokerEvent.LeaseChanged("lease-" + l.state().name().toLowerCase(java.util.Locale.ROOT), l)));
            quotas = new Quotas(new QuotaProperties(new QuotaProperties.Fd(Duration.ofSeconds(1), IDLE, 256, 32, 4),
                    new QuotaProperties.Streams(STREAMS, 128, 8), null));
            run = dir.resolve("run");
            Files.createDirectories(run);
            Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
            fdSocket = new FdSocketServer(run.resolve("fd.sock"), leases, null, quotas.settings().fd(), quotas.fdConnections(), c -> false);
            grpc = new GrpcServer(run.resolve("api.sock"), List.<BindableService>of(new LeasesGrpcService(leases, fdSocket.path()),
                    new EventsGrpcService(bus, Authz.rootOnly(), quotas.streams())));
        }

        @Override
        public void close() {
            grpc.close();
            fdSocket.close();
            leases.close();
            policy.close();
        }
    }
}
