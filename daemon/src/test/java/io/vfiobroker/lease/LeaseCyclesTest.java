package io.vfiobroker.lease;

import io.vfiobroker.iommu.VfioKernelModel;
import io.vfiobroker.iommu.VfioDomainOpener;
import io.grpc.BindableService;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.api.v1.AcquireRequest;
import io.vfiobroker.api.v1.AcquireResponse;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.broker.FdSocketServer;
import io.vfiobroker.client.AcquiredDevices;
import io.vfiobroker.client.BrokerException;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.grpc.LeasesGrpcService;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Posix;
import io.vfiobroker.nativeshim.ReceivedMessage;
import io.vfiobroker.nativeshim.SocketType;
import io.vfiobroker.nativeshim.UnixSockets;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Many acquire → redeem → release cycles through the real gRPC and fd sockets leave the daemon's fd table as it
 * was, and tickets work once and for their uid only, checked on the fd socket itself (SO_PEERCRED there).
 * The device is already on vfio-pci and kept there, so a cycle makes no sysfs writes and no journal entries.
 */
class LeaseCyclesTest {

    // The 10 000: ~25 s here (2 cores). bench/ LeaseBench repeats the count with timings.
    static final int CYCLES = 10_000;
    static final int WARM_UP = 200;
    static final int CONCURRENT_CYCLES = 1000;
    static final int NOBODY = 65534;

    Path dir;
    Path run;
    InventoryScanner scanner;
    LeaseService leases;
    FdSocketServer fdSocket;
    GrpcServer grpc;
    VfioKernelModel kernel;
    PolicyService policy;
    String vf;
    List<String> vfs;
    final List<Process> children = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        // tmpfs: the audit log fsyncs every record, and this test counts fds, not disk flushes. Short path: sockets are limited to 108 bytes.
        dir = Files.createTempDirectory(Path.of(Files.isDirectory(Path.of("/dev/shm")) ? "/dev/shm" : "/tmp"), "vbc-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 4).withVfDriver("vfio-pci"), dir.resolve("host"));
        SimulatedKernelHost host = new SimulatedKernelHost(root);
        scanner = new InventoryScanner(host, PciIds.empty());
        vfs = scanner.deviceAddresses().stream().filter(a -> scanner.device(a).orElseThrow().boundTo("vfio-pci")).map(Object::toString).toList();
        vf = vfs.get(0);
        Path policyFile = dir.resolve("policy.yaml");
        Files.writeString(policyFile, """
                version: 1
                rules:
                  - name: root-vfs
                    action: allow
                    devices:
                      vendorDevice: "8086:154c"
                    principals:
                      uid: 0
                    limits:
                      maxDevices: unlimited
                      memlockPerLease: unlimited
                      keepBound: true
                """);
        policy = new PolicyService(policyFile, scanner);
        Path state = dir.resolve("state");
        BindingService binding = new BindingService(host, scanner, new Journal(state), () -> BindingRules.of(policy.current()));
        Files.createDirectories(dir.resolve("fake"));
        kernel = VfioKernelModel.of(host).standInFiles(dir.resolve("fake"));
        leases = new LeaseService(host, scanner, binding, policy, new VfioDomainOpener(host, kernel), new Memlock(), new AuditLog(state), Duration.ofSeconds(30));
        run = dir.resolve("run");
        Files.createDirectories(run);
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        fdSocket = new FdSocketServer(run.resolve("fd.sock"), leases);
        grpc = new GrpcServer(run.resolve("api.sock"), List.<BindableService>of(new LeasesGrpcService(leases, fdSocket.path())));
    }

    @AfterEach
    void stop() throws Exception {
        for (Process p : children) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS); // its pipes close on exit: not in the next test's fd count
        }
        grpc.close();
        fdSocket.close();
        leases.close();
        policy.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** This JVM's fds by kind (socket, pipe, anon_inode:[pidfd], file): the count, and on a mismatch, what differs. */
    private static java.util.Map<String, Long> fdTable() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.map(fd -> {
                try {
                    String t = Files.readSymbolicLink(fd).toString();
                    return t.startsWith("/") ? "file" : t.replaceAll(":\\[\\d+\\]$", "");
                } catch (IOException e) {
                    return "gone"; // the listing's own fd, or one closed meanwhile
                }
            }).collect(java.util.stream.Collectors.groupingBy(k -> k, java.util.TreeMap::new, java.util.stream.Collectors.counting()));
        }
    }

    private static long count(java.util.Map<String, Long> table) {
        return table.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * The fd table once it has held still for 3 s: earlier tests' event loops and child pipes close asynchronously
     * (netty's quiet period is 2 s), and nothing offers a hook to wait on.
     */
    private static java.util.Map<String, Long> settledFdTable() throws Exception {
        java.util.Map<String, Long> last = fdTable();
        long stableSince = System.nanoTime();
        long deadline = stableSince + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() - stableSince < TimeUnit.SECONDS.toNanos(3) && System.nanoTime() < deadline) {
            Thread.sleep(50);
            java.util.Map<String, Long> now = fdTable();
            if (!now.equals(last)) {
                last = now;
                stableSince = System.nanoTime();
            }
        }
        return last;
    }

    /** Three INFO lines a cycle through surefire's console capture cost more than the cycle itself. */
    private static <T> T quietly(java.util.concurrent.Callable<T> work) throws Exception {
        ch.qos.logback.classic.Logger root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ch.qos.logback.classic.Level before = root.getLevel();
        root.setLevel(ch.qos.logback.classic.Level.WARN);
        try {
            return work.call();
        } finally {
            root.setLevel(before);
        }
    }

    private static boolean processWatchAlive() {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("process-watch") && t.isAlive());
    }

    private void cycle(VfioBrokerClient client) {
        try (AcquiredDevices got = client.acquire(List.of(vf), Backend.BACKEND_UNSPECIFIED, 0)) {
            if (got.fds().size() != 3) throw new AssertionError("expected container, group and device fds, got " + got.fds().size());
        }
    }

    @Test
    void tenThousandCyclesLeaveTheDaemonWithTheSameOpenFds() throws Exception {
        try (VfioBrokerClient client = VfioBrokerClient.connect(run)) {
            // Warm-up: the gRPC connection, epoll fds, audit and journal channels, class loading open their fds once.
            quietly(() -> {
                for (int i = 0; i < WARM_UP; i++) cycle(client);
                return null;
            });
            java.util.Map<String, Long> before = settledFdTable();
            long t0 = System.nanoTime();
            quietly(() -> {
                for (int i = 0; i < CYCLES; i++) cycle(client);
                return null;
            });
            long ms = (System.nanoTime() - t0) / 1_000_000;
            System.out.printf("LeaseCyclesTest: %d cycles in %d ms%n", CYCLES, ms);
            // The fd-socket worker closes its end just after replying: the last one may still be closing. A leak never does.
            java.util.Map<String, Long> after = fdTable();
            for (int i = 0; i < 200 && !after.equals(before); i++) {
                Thread.sleep(10);
                after = fdTable();
            }
            // A leak over 10k cycles shows as thousands more fds of a kind; fewer only means an earlier test's fds
            // finished closing in the background meanwhile.
            for (var e : after.entrySet()) {
                assertThat(e.getValue()).as("open %s fds after %d cycles: %s; before: %s", e.getKey(), CYCLES, after, before)
                        .isLessThanOrEqualTo(before.getOrDefault(e.getKey(), 0L));
            }
        }
        assertThat(kernel.state()).as("kernel state").isEqualTo("idle");
        assertThat(leases.active()).isEmpty();
        assertThat(scanner.device(io.vfiobroker.domain.PciAddress.parse(vf)).orElseThrow().driver()).isEqualTo("vfio-pci");
    }

    /**
     * Leases end on client death only while the process-watch thread runs; cycles from several clients at once (watch
     * and unwatch racing its poll loop) must not stop it. Then a SIGKILLed client still loses its lease.
     */
    @Test
    void aKilledClientStillLosesItsLeaseAfterConcurrentCycles() throws Exception {
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        quietly(() -> {
            for (String device : vfs) {
                Thread t = new Thread(() -> {
                    try (VfioBrokerClient client = VfioBrokerClient.connect(run)) {
                        for (int i = 0; i < CONCURRENT_CYCLES; i++) {
                            try (AcquiredDevices got = client.acquire(List.of(device), Backend.BACKEND_UNSPECIFIED, 0)) {
                                assertThat(got.fds()).hasSize(3);
                            }
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                });
                threads.add(t);
                t.start();
            }
            for (Thread t : threads) t.join();
            return null;
        });
        assertThat(failures).isEmpty();
        assertThat(processWatchAlive()).as("process-watch thread alive after %d concurrent cycles", CONCURRENT_CYCLES * vfs.size()).isTrue();

        Path cp = ChildClassPath.worldReadable();
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cp + "/*:" + cp + "/classes",
                ClientMain.class.getName(), run.toString(), vf).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        children.add(p);
        String id = null;
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        for (String line; (line = out.readLine()) != null && !line.equals("READY"); ) {
            if (line.startsWith("LEASE ")) id = line.split(" ")[1];
            assertThat(line).doesNotStartWith("ERROR");
        }
        assertThat(id).as("the child's lease").isNotNull();
        String leaseId = id;
        CountDownLatch ended = new CountDownLatch(1);
        leases.addListener(l -> {
            if (l.id().equals(leaseId) && l.state() == Lease.State.ENDED) ended.countDown();
        });
        p.destroyForcibly(); // SIGKILL
        // The 100 ms bound is a benchmark figure (bench/run.sh lease), not a timed unit test: here, that it ends at all.
        assertThat(ended.await(10, TimeUnit.SECONDS)).as("lease ended after kill -9").isTrue();
        assertThat(leases.get(leaseId).orElseThrow().endReason()).isEqualTo("client process exited");
    }

    @Test
    void aReplayedTicketIsRefusedAndTheLeaseStaysWithItsHolder() throws Exception {
        try (VfioBrokerClient client = VfioBrokerClient.connect(run)) {
            AcquireResponse r = client.stub().acquire(AcquireRequest.newBuilder().addDevices(vf).build());
            try (AcquiredDevices got = client.redeem(r)) {
                assertThat(got.fds()).hasSize(3);
                assertThatThrownBy(() -> client.redeem(r)).isInstanceOf(BrokerException.class)
                        .hasMessageContaining("refused the ticket").hasMessageContaining("already used");
                // A replay burns nothing: the holder keeps its lease and its fds still read.
                assertThat(leases.get(r.getLease().getId()).orElseThrow().state()).isEqualTo(Lease.State.ACTIVE);
                byte[] buf = new byte[64];
                int n = Posix.pread(got.fds().get(2).fd(), buf, 0, "device fd");
                assertThat(new String(buf, 0, n, StandardCharsets.UTF_8)).startsWith("device " + vf);
            }
            assertThat(leases.get(r.getLease().getId()).orElseThrow().state()).isEqualTo(Lease.State.ENDED);
        }
    }

    @Test
    void closingALeaseThatWasTakenBackMeanwhileDoesNotThrow() throws Exception {
        try (VfioBrokerClient client = VfioBrokerClient.connect(run)) {
            AcquiredDevices got = client.acquire(List.of(vf), Backend.BACKEND_UNSPECIFIED, 0);
            String id = got.lease().getId();
            leases.revoke(id, "revoked by admin");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (leases.get(id).orElseThrow().state() != Lease.State.ENDED) {
                assertThat(System.nanoTime()).as("lease %s ended", id).isLessThan(deadline);
                Thread.sleep(20);
            }
            // The client's close comes after the end: its Release finds no live lease, which is what it asked for.
            got.close();
            assertThat(got.fds()).allMatch(f -> !f.isOpen());
            assertThat(leases.get(id).orElseThrow().endReason()).isEqualTo("revoked by admin");
        }
    }

    /**
     * LeaseHandoverTest refuses a wrong-uid ticket with a made-up Caller; this presents it on the real fd socket from a
     * process running as another uid, so the uid comes from SO_PEERCRED there, not from the gRPC call that got the ticket.
     */
    @Test
    void aTicketPresentedOnTheFdSocketByAnotherUidIsRefused() throws Exception {
        CountDownLatch ended = new CountDownLatch(1);
        AcquireResponse r;
        try (VfioBrokerClient client = VfioBrokerClient.connect(run)) {
            r = client.stub().acquire(AcquireRequest.newBuilder().addDevices(vf).build());
        }
        leases.addListener(l -> {
            if (l.id().equals(r.getLease().getId()) && l.state() == Lease.State.ENDED) ended.countDown();
        });
        Path cp = ChildClassPath.worldReadable();
        Process p = new ProcessBuilder("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cp + "/*:" + cp + "/classes",
                Presenter.class.getName(), r.getFdSocket(), r.getTicket())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        children.add(p);
        String reply;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            reply = out.lines().filter(l -> l.startsWith("REPLY ")).findFirst().orElse("(no reply)");
        }
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(reply).isEqualTo("REPLY 0 fds, error: this ticket belongs to another uid");
        assertThat(ended.await(5, TimeUnit.SECONDS)).as("the burnt lease ended").isTrue();
        assertThat(leases.get(r.getLease().getId()).orElseThrow().endReason()).isEqualTo("ticket presented by uid " + NOBODY + ", not the lease holder");
        assertThat(kernel.state()).isEqualTo("idle");
    }

    /** A process that presents a ticket on the fd socket and prints how many fds and which error came back. */
    public static final class Presenter {
        public static void main(String[] args) throws Exception {
            try (OwnedFd sock = UnixSockets.connect(Path.of(args[0]), SocketType.SEQPACKET)) {
                UnixSockets.sendFds(sock.fd(), args[1].getBytes(StandardCharsets.US_ASCII));
                if (!Posix.awaitReadable(sock.fd(), 10_000)) {
                    System.out.println("REPLY timeout");
                    return;
                }
                try (ReceivedMessage m = UnixSockets.recvFds(sock.fd(), 1 << 16, UnixSockets.MAX_FDS)) {
                    var bundle = io.vfiobroker.api.v1.FdBundle.parseFrom(m.payload());
                    System.out.println("REPLY " + m.fds().size() + " fds, error: " + bundle.getError());
                }
            }
        }
    }
}
