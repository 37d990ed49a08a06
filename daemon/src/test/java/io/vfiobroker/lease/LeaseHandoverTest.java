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
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.grpc.LeasesGrpcService;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.policy.PolicyService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

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

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Acquire → ticket → fds over SCM_RIGHTS → process death, with real sockets, real SO_PEERCRED, real pidfds and
 * a real client process running as uid 65534; only the VFIO ioctls are the test twin.
 */
class LeaseHandoverTest {

    static final String VF = "0000:07:02.0";
    static final int NOBODY = 65534;

    Path dir;
    Path root;
    InventoryScanner scanner;
    LeaseService leases;
    FdSocketServer fdSocket;
    GrpcServer grpc;
    VfioKernelModel kernel;
    VfioDomainOpener domains;
    PolicyService policy;
    final BlockingQueue<Lease> changes = new LinkedBlockingQueue<>();
    final List<Process> children = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        // Short, world-traversable paths: socket paths are limited to 108 bytes and uid 65534 must reach them.
        dir = Files.createTempDirectory(Path.of("/tmp"), "vb-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        root = HostTreeGenerator.generate(HostSpec.demo(), dir.resolve("host"));
        SimulatedKernelHost host = new SimulatedKernelHost(root);
        scanner = new InventoryScanner(host, PciIds.empty());
        Path policyFile = dir.resolve("policy.yaml");
        Files.writeString(policyFile, """
                version: 1
                rules:
                  - name: nobody-vfs
                    action: allow
                    devices:
                      vendorDevice: "8086:154c"
                    principals:
                      uid: 65534
                    limits:
                      maxDevices: 1
                      # prlimit on another uid needs CAP_SYS_RESOURCE, which this sandbox withholds from root;
                      # the VM suite covers it. Here a root client gets a limit below its hard limit instead.
                      memlockPerLease: unlimited
                  - name: another-uids-vfs
                    action: allow
                    devices:
                      vendorDevice: "8086:154c"
                    principals:
                      uid: 65532
                    limits:
                      memlockPerLease: unlimited
                  - name: root-edu
                    action: allow
                    devices:
                      vendorDevice: "1234:11e8"
                    principals:
                      uid: 0
                    limits:
                      memlockPerLease: 4MiB
                """);
        policy = new PolicyService(policyFile, scanner);
        Path state = dir.resolve("state");
        BindingService binding = new BindingService(host, scanner, new Journal(state), () -> BindingRules.of(policy.current()));
        Files.createDirectories(dir.resolve("fake"));
        kernel = VfioKernelModel.of(host).standInFiles(dir.resolve("fake"));
        domains = new VfioDomainOpener(host, kernel);
        leases = new LeaseService(host, scanner, binding, policy, domains, new Memlock(), new AuditLog(state), Duration.ofSeconds(5));
        leases.addListener(changes::add);
        Path run = dir.resolve("run");
        Files.createDirectories(run);
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        fdSocket = new FdSocketServer(run.resolve("fd.sock"), leases);
        grpc = new GrpcServer(run.resolve("api.sock"), List.<BindableService>of(new LeasesGrpcService(leases, fdSocket.path())));
    }

    @AfterEach
    void stop() throws IOException {
        children.forEach(Process::destroyForcibly);
        grpc.close();
        fdSocket.close();
        leases.close();
        policy.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** A client JVM as {@code uid}; its class path is copied where that uid can read it. */
    private Process client(int uid, String device) throws IOException {
        return child(uid, ClientMain.class.getName(), dir.resolve("run").toString(), device);
    }

    private Process child(int uid, String mainClass, String... args) throws IOException {
        Path cp = ChildClassPath.worldReadable();
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cp + "/*:" + cp + "/classes", mainClass));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        children.add(p);
        return p;
    }

    private static List<String> linesUntil(Process p, String last) throws IOException {
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

    private Lease nextChange(String id, Lease.State state) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            Lease l = changes.poll(1, TimeUnit.SECONDS);
            if (l != null && l.id().equals(id) && l.state() == state) return l;
        }
        throw new AssertionError("lease " + id + " never reached " + state);
    }

    @Test
    void anUnprivilegedClientGetsItsFdsAndLosesTheLeaseWhenKilled() throws Exception {
        Process p = client(NOBODY, VF);
        List<String> out = linesUntil(p, "READY");
        assertThat(out).as("client output").last().isEqualTo("READY");
        String[] leaseLine = out.get(0).split(" ");
        assertThat(leaseLine[0]).isEqualTo("LEASE");
        assertThat(leaseLine[2]).isEqualTo(Integer.toString(NOBODY));
        assertThat(Long.parseLong(leaseLine[3])).isEqualTo(p.pid());
        // The client read through fds it could never have opened itself (the files are in a root-only 0700 dir).
        assertThat(out).contains("FD KIND_CONTAINER container", "FD KIND_DEVICE device " + VF);

        Lease lease = leases.get(leaseLine[1]).orElseThrow();
        assertThat(lease.state()).isEqualTo(Lease.State.ACTIVE);
        assertThat(lease.holder().uid()).isEqualTo(NOBODY);
        assertThat(lease.rule()).isEqualTo("nobody-vfs");
        assertThat(scanner.device(PciAddress.parse(VF)).orElseThrow().driver()).isEqualTo("vfio-pci");
        assertThat(lease.memlockLimitBytes()).isEqualTo(-1);

        p.destroyForcibly(); // SIGKILL: no goodbye from the client
        Lease ended = nextChange(lease.id(), Lease.State.ENDED);
        assertThat(ended.endReason()).isEqualTo("client process exited");
        assertThat(kernel.resets(VF)).isEqualTo(1);
        assertThat(kernel.state()).isEqualTo("idle");
        assertThat(scanner.device(PciAddress.parse(VF)).orElseThrow().driver()).isEqualTo("iavf");
        assertThat(leases.active()).isEmpty();
    }

    @Test
    void theClientsMemlockLimitIsSetForTheLeaseAndRestoredAfter() throws Exception {
        Process p = client(0, "0000:06:00.0");
        List<String> out = linesUntil(p, "READY");
        assertThat(out).last().isEqualTo("READY");
        Lease lease = leases.get(out.get(0).split(" ")[1]).orElseThrow();
        assertThat(lease.memlockLimitBytes()).isEqualTo(4L << 20);
        assertThat(Files.readString(Path.of("/proc/" + p.pid() + "/limits"))).containsPattern("Max locked memory\\s+4194304\\s+4194304");
        // Putting the old (higher) hard limit back needs CAP_SYS_RESOURCE, which this sandbox lacks: the VM suite checks it.
        p.getOutputStream().write("release\n".getBytes());
        p.getOutputStream().flush();
        assertThat(linesUntil(p, "RELEASED")).last().isEqualTo("RELEASED");
        assertThat(nextChange(lease.id(), Lease.State.ENDED).endReason()).isEqualTo("released by holder");
        // It let go itself, so it was not killed.
        assertThat(p.isAlive()).isTrue();
    }

    @Test
    void runExecsTheProgramWithTheLeaseFdsAnnouncedTheSystemdWay() throws Exception {
        Process p = child(NOBODY, "io.vfiobroker.cli.Main", "run", "--run-dir", dir.resolve("run").toString(), "--device", VF, "--",
                "/bin/sh", "-c", "echo \"FDS $LISTEN_FDS $LISTEN_FDNAMES $LISTEN_PID $$\"; head -c 100 <&5; echo; "
                        + "echo \"DONE $(ls /proc/self/fd | wc -l)\"; read line");
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        List<String> out = new ArrayList<>();
        for (String line; (line = r.readLine()) != null; ) {
            out.add(line);
            if (line.startsWith("DONE")) break;
        }
        String fds = out.stream().filter(l -> l.startsWith("FDS ")).findFirst().orElseThrow(() -> new AssertionError("output: " + out));
        String[] f = fds.split(" ");
        assertThat(f[1]).isEqualTo("3");
        assertThat(f[2]).matches("container:group-[0-9]+:" + java.util.regex.Pattern.quote("device-" + VF.replace(':', '_')));
        assertThat(f[3]).as("LISTEN_PID is the program's own pid").isEqualTo(f[4]).isEqualTo(Long.toString(p.pid()));
        assertThat(out).contains("device " + VF);
        // 0-2, the three lease fds, and the fd ls itself opens for /proc/self/fd: nothing of the JVM leaked through exec
        assertThat(out.get(out.size() - 1)).isEqualTo("DONE 7");
        Lease lease = leases.active().stream().filter(l -> l.holder().pid() == p.pid()).findFirst().orElseThrow();
        p.getOutputStream().write("\n".getBytes());
        p.getOutputStream().flush();
        assertThat(nextChange(lease.id(), Lease.State.ENDED).endReason()).isEqualTo("client process exited");
    }

    @Test
    void aPythonClientWithoutGeneratedCodeSpeaksTheSameProtocol() throws Exception {
        Path script = ChildClassPath.worldReadable().resolve("raw_client.py");
        try (var in = getClass().getResourceAsStream("/clients/raw_client.py")) {
            Files.copy(in, script, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        Process p = new ProcessBuilder("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "/usr/bin/python3", script.toString(), dir.resolve("run/api.sock").toString(), VF)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        children.add(p);
        List<String> out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(out).as("python client output").hasSizeGreaterThanOrEqualTo(4);
        String[] lease = out.get(0).split(" ");
        assertThat(lease[0]).isEqualTo("LEASE");
        assertThat(lease[2]).as("uid the daemon saw").isEqualTo(Integer.toString(NOBODY));
        assertThat(lease[3]).as("pid the daemon saw").isEqualTo(Long.toString(p.pid()));
        assertThat(out).contains("FDS 3 3", "FD 'container'", "FD 'device " + VF + "'", "RELEASED");
        assertThat(leases.get(lease[1]).orElseThrow().endReason()).isEqualTo("released by holder");
    }

    @Test
    void aRestartedDaemonTakesBackTheLeasesOfClientsStillRunningAndRestoresTheRest() throws Exception {
        LeaseStore store = new LeaseStore(dir.resolve("state/leases.json"));
        leases.persistTo(store);
        Process alive = client(NOBODY, VF);
        String aliveId = linesUntil(alive, "READY").get(0).split(" ")[1];
        var gone = leases.acquire(new Caller((int) ProcessHandle.current().pid(), 65532, 65532), List.of("0000:07:02.1"), null, 0);
        assertThat(store.read()).extracting(LeaseStore.Stored::id).containsExactlyInAnyOrder(aliveId, gone.getKey().id());

        // The daemon dies; while it is down, the holder of the second lease goes (a pid that is no longer the test JVM's
        // start time stands for it). The new daemon reads the store.
        leases.close();
        List<LeaseStore.Stored> stored = new ArrayList<>(store.read());
        stored.replaceAll(s -> s.id().equals(gone.getKey().id())
                ? new LeaseStore.Stored(s.id(), s.pid(), s.startTime() + 1, s.uid(), s.gid(), s.devices(), s.backend(), s.unsafeInterrupts(),
                s.rule(), s.memlockLimitBytes(), s.keepBound(), s.created()) : s);
        store.write(stored);
        SimulatedKernelHost host = new SimulatedKernelHost(root);
        BindingService binding = new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.of(policy.current()));
        leases = new LeaseService(host, scanner, binding, policy, domains, new Memlock(), new AuditLog(dir.resolve("state")), Duration.ofSeconds(5));
        leases.addListener(changes::add);
        List<String> report = leases.persistTo(store);

        assertThat(report).anySatisfy(r -> assertThat(r).contains(aliveId).contains("taken back"))
                .anySatisfy(r -> assertThat(r).contains(gone.getKey().id()).contains("ended"));
        assertThat(leases.awaitEnded(gone.getKey().id(), Duration.ofSeconds(10))).isTrue();
        assertThat(leases.active()).extracting(Lease::id).containsExactly(aliveId);
        assertThat(scanner.device(PciAddress.parse("0000:07:02.1")).orElseThrow().driver()).isEqualTo("iavf");
        assertThat(scanner.device(PciAddress.parse(VF)).orElseThrow().driver()).isEqualTo("vfio-pci");

        alive.destroyForcibly();
        assertThat(nextChange(aliveId, Lease.State.ENDED).endReason()).isEqualTo("client process exited");
        assertThat(scanner.device(PciAddress.parse(VF)).orElseThrow().driver()).isEqualTo("iavf");
        assertThat(store.read()).isEmpty();
    }

    @Test
    void releaseByTheHolderRestoresTheDevice() throws Exception {
        Process p = client(NOBODY, VF);
        List<String> out = linesUntil(p, "READY");
        String id = out.get(0).split(" ")[1];
        p.getOutputStream().write("release\n".getBytes());
        p.getOutputStream().flush();
        assertThat(linesUntil(p, "RELEASED")).last().isEqualTo("RELEASED");
        assertThat(nextChange(id, Lease.State.ENDED).endReason()).isEqualTo("released by holder");
        assertThat(scanner.device(PciAddress.parse(VF)).orElseThrow().driver()).isEqualTo("iavf");
    }

    @Test
    void aUidWithoutAGrantIsRefusedWithThePolicyReasonAndNothingIsBound() throws Exception {
        Process p = client(NOBODY - 1, VF);
        List<String> out = linesUntil(p, "READY");
        assertThat(out).singleElement().asString().startsWith("ERROR PERMISSION_DENIED").contains("uid 65533").containsPattern("default.deny");
        assertThat(scanner.device(PciAddress.parse(VF)).orElseThrow().driver()).isEqualTo("iavf");
        assertThat(leases.active()).isEmpty();
    }

    @Test
    void aTicketPresentedByAnotherUidIsRefusedAndBurnsTheLease() throws Exception {
        var granted = leases.acquire(new Caller((int) ProcessHandle.current().pid(), NOBODY, NOBODY), List.of(VF), null, 0);
        Caller thief = new Caller((int) ProcessHandle.current().pid(), 1000, 1000);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> leases.redeem(granted.getValue(), thief))
                .isInstanceOf(LeaseException.class).hasMessageContaining("another uid");
        assertThat(leases.get(granted.getKey().id()).orElseThrow().endReason()).contains("not the lease holder");
        assertThat(nextChange(granted.getKey().id(), Lease.State.ENDED).endReason()).contains("not the lease holder");
        assertThat(scanner.device(PciAddress.parse(VF)).orElseThrow().driver()).isEqualTo("iavf");
    }

    @Test
    void anUnredeemedTicketExpiresAndEndsTheLease() throws Exception {
        var granted = leases.acquire(new Caller((int) ProcessHandle.current().pid(), NOBODY, NOBODY), List.of(VF), null, 0);
        Lease ended = nextChange(granted.getKey().id(), Lease.State.ENDED);
        assertThat(ended.endReason()).contains("ticket expired");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> leases.redeem(granted.getValue(),
                new Caller((int) ProcessHandle.current().pid(), NOBODY, NOBODY))).hasMessageContaining("expired");
    }

    @Test
    void aSecondDeviceBeyondMaxDevicesIsRefused() {
        Caller c = new Caller((int) ProcessHandle.current().pid(), NOBODY, NOBODY);
        leases.acquire(c, List.of(VF), null, 0);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> leases.acquire(c, List.of("0000:07:02.1"), null, 0))
                .isInstanceOf(LeaseException.class).hasMessageContaining("allows at most 1");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> leases.acquire(c, List.of("../../x"), null, 0))
                .hasMessageContaining("invalid PCI address '../../x'");
    }
}
