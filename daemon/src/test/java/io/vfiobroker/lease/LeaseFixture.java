package io.vfiobroker.lease;

import io.vfiobroker.iommu.VfioKernelModel;
import io.vfiobroker.iommu.VfioDomainOpener;
import io.grpc.BindableService;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.broker.FdSocketServer;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.grpc.LeasesGrpcService;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.policy.PolicyService;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A lease service on a generated host with the simulated kernel and the file-backed domain twin, its fd socket and
 * gRPC socket in a world-traversable directory, and client JVMs run as other uids: everything but the VFIO ioctls real.
 */
final class LeaseFixture implements AutoCloseable {

    final Path dir;
    final Path root;
    final Path policyFile;
    final SimulatedKernelHost host;
    final InventoryScanner scanner;
    final PolicyService policy;
    final VfioKernelModel kernel;
    final VfioDomainOpener domains;
    final BindingService binding;
    LeaseService leases;
    final FdSocketServer fdSocket;
    final GrpcServer grpc;
    final BlockingQueue<Lease> changes = new LinkedBlockingQueue<>();
    final List<Process> children = new ArrayList<>();

    final Duration ticketTtl;

    LeaseFixture(HostSpec spec, String policyYaml) throws IOException {
        this(spec, policyYaml, Duration.ofSeconds(5));
    }

    LeaseFixture(HostSpec spec, String policyYaml, Duration ticketTtl) throws IOException {
        this.ticketTtl = ticketTtl;
        // Short, world-traversable paths: socket paths are limited to 108 bytes and other uids must reach them.
        dir = Files.createTempDirectory(Path.of("/tmp"), "vb-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        root = HostTreeGenerator.generate(spec, dir.resolve("host"));
        host = new SimulatedKernelHost(root);
        scanner = new InventoryScanner(host, PciIds.empty());
        policyFile = dir.resolve("policy.yaml");
        Files.writeString(policyFile, policyYaml);
        policy = new PolicyService(policyFile, scanner);
        binding = new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.of(policy.current()));
        Files.createDirectories(dir.resolve("fake"));
        kernel = VfioKernelModel.of(host).standInFiles(dir.resolve("fake"));
        domains = new VfioDomainOpener(host, kernel);
        leases = newLeaseService();
        Path run = dir.resolve("run");
        Files.createDirectories(run);
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        fdSocket = new FdSocketServer(run.resolve("fd.sock"), leases);
        grpc = new GrpcServer(run.resolve("api.sock"), List.<BindableService>of(new LeasesGrpcService(leases, fdSocket.path())));
    }

    LeaseService newLeaseService() {
        LeaseService l = new LeaseService(host, scanner, binding, policy, domains, new Memlock(), new AuditLog(dir.resolve("state")),
                ticketTtl);
        l.addListener(changes::add);
        return l;
    }

    String driver(String address) {
        return scanner.device(PciAddress.parse(address)).orElseThrow().driver();
    }

    /** The first device with {@code vendorDevice} ("vvvv:dddd"). */
    String address(String vendorDevice) {
        return scanner.scan().devices().stream().filter(d -> d.vendorDevice().equals(vendorDevice)).map(Device::address)
                .map(PciAddress::toString).sorted().findFirst().orElseThrow();
    }

    String audit() throws IOException {
        StringBuilder all = new StringBuilder();
        try (Stream<Path> s = Files.list(dir.resolve("state"))) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith("audit")).toList()) all.append(Files.readString(p));
        }
        return all.toString();
    }

    /** A client JVM ({@link ClientMain}) as {@code uid}, holding the lease until told to release. */
    Process client(int uid, String device) throws IOException {
        return child(List.of(), uid, ClientMain.class.getName(), dir.resolve("run").toString(), device);
    }

    Process child(List<String> prefix, int uid, String mainClass, String... args) throws IOException {
        Path cp = ChildClassPath.worldReadable();
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cp + "/*:" + cp + "/classes", mainClass));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        children.add(p);
        return p;
    }

    static List<String> linesUntil(Process p, String last) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        List<String> lines = new ArrayList<>();
        String line;
        while ((line = r.readLine()) != null) {
            if (!line.matches("(LEASE|FD|READY|ERROR|RELEASED).*")) continue; // log lines
            lines.add(line);
            if (line.startsWith(last) || line.startsWith("ERROR")) break;
        }
        return lines;
    }

    Lease nextChange(String id, Lease.State state, Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline) {
            Lease l = changes.poll(100, TimeUnit.MILLISECONDS);
            if (l != null && l.id().equals(id) && l.state() == state) return l;
        }
        throw new AssertionError("lease " + id + " never reached " + state + " in " + max);
    }

    @Override
    public void close() throws IOException {
        children.forEach(Process::destroyForcibly);
        grpc.close();
        fdSocket.close();
        leases.close();
        policy.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
