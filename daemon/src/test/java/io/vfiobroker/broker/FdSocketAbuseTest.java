package io.vfiobroker.broker;

import io.vfiobroker.iommu.VfioKernelModel;
import io.vfiobroker.iommu.VfioDomainOpener;
import io.grpc.BindableService;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.api.v1.FdBundle;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.client.AcquiredDevices;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.grpc.LeasesGrpcService;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.nativeshim.OwnedFd;
import io.vfiobroker.nativeshim.Posix;
import io.vfiobroker.nativeshim.ReceivedMessage;
import io.vfiobroker.nativeshim.SocketType;
import io.vfiobroker.nativeshim.UnixSockets;
import io.vfiobroker.policy.PolicyService;
import io.vfiobroker.quota.QuotaProperties;
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
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * fd.sock under abuse, with real sockets and SO_PEERCRED: the hostile side is a Python process running as another
 * uid (setpriv) that opens raw SEQPACKET connections and says nothing; the legitimate side is the Java client as root.
 */
class FdSocketAbuseTest {

    static final int NOBODY = 65534;
    static final int OTHER = 65533;

    /** The system's python: a per-user install (pyenv under /root) is out of reach for the hostile uid. */
    static final String PYTHON = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";

    /** Opens n connections, reports each reply (refusal or drop) as "reply i text", then holds them until killed. */
    static final String HOSTILE = """
            import socket, sys, time, select
            path, n, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
            socks = []
            for i in range(n):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(path)
                socks.append(s)
            print("connected", n, flush=True)
            pending = set(range(n))
            deadline = time.time() + wait
            while pending and time.time() < deadline:
                r, _, _ = select.select([socks[i] for i in pending], [], [], max(0, deadline - time.time()))
                for s in r:
                    i = socks.index(s)
                    data = s.recv(4096)
                    pending.discard(i)
                    print("reply", i, data.decode("latin1").replace("\\n", " ") if data else "<eof>", flush=True)
            print("open", len(pending), flush=True)
            time.sleep(3600)
            """;

    Path dir;
    Path run;
    LeaseService leases;
    FdSocketServer fdSocket;
    GrpcServer grpc;
    PolicyService policy;
    String vf;
    final List<Process> children = new ArrayList<>();

    void start(QuotaProperties.Fd settings) throws IOException {
        dir = Files.createTempDirectory(Path.of("/tmp"), "vbab-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2).withVfDriver("vfio-pci"), dir.resolve("host"));
        SimulatedKernelHost host = new SimulatedKernelHost(root);
        InventoryScanner scanner = new InventoryScanner(host, PciIds.empty());
        vf = scanner.deviceAddresses().stream().filter(a -> scanner.device(a).orElseThrow().boundTo("vfio-pci")).map(Object::toString)
                .findFirst().orElseThrow();
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
        leases = new LeaseService(host, scanner, binding, policy, new VfioDomainOpener(host, VfioKernelModel.of(host).standInFiles(dir.resolve("fake"))), new Memlock(),
                new AuditLog(state), Duration.ofSeconds(30));
        run = dir.resolve("run");
        Files.createDirectories(run);
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        fdSocket = new FdSocketServer(run.resolve("fd.sock"), leases, null, settings, null, c -> false);
        grpc = new GrpcServer(run.resolve("api.sock"), List.<BindableService>of(new LeasesGrpcService(leases, fdSocket.path())));
    }

    @BeforeEach
    void none() {
        children.clear();
    }

    @AfterEach
    void stop() throws Exception {
        for (Process p : children) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        if (grpc != null) grpc.close();
        if (fdSocket != null) fdSocket.close();
        if (leases != null) leases.close();
        if (policy != null) policy.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    /** The hostile process as {@code uid}; its stdout lines go to the returned queue. */
    private BlockingQueue<String> hostile(int uid, int connections, double waitSeconds) throws IOException {
        Path script = dir.resolve("hostile.py");
        if (!Files.exists(script)) {
            Files.writeString(script, HOSTILE);
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rw-r--r--"));
        }
        Process p = new ProcessBuilder("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", PYTHON, script.toString(),
                fdSocket.path().toString(), Integer.toString(connections), Double.toString(waitSeconds))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        children.add(p);
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) lines.add(l);
            } catch (IOException ignored) {
                // the process was killed
            }
        });
        t.setDaemon(true);
        t.start();
        return lines;
    }

    private static String await(BlockingQueue<String> lines, String prefix) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (String l; (l = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) != null; ) {
            if (l.startsWith(prefix)) return l;
        }
        throw new AssertionError("no line starting with '" + prefix + "' within 30 s");
    }

    private static void eventually(BooleanSupplier cond, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new AssertionError("not within 20 s: " + what);
            Thread.sleep(20);
        }
    }

    private void legitimateCycle(VfioBrokerClient client) {
        try (AcquiredDevices got = client.acquire(List.of(vf), Backend.BACKEND_UNSPECIFIED, 0)) {
            assertThat(got.fds()).hasSize(3);
        }
    }

    @Test
    void sixtyFourIdleConnectionsFromAnotherUidNeitherDelayARedeemNorStayOpen() throws Exception {
        start(new QuotaProperties.Fd(Duration.ofSeconds(1), 64, 256, 32, 4));
        try (VfioBrokerClient client = VfioBrokerClient.connect(run)) {
            legitimateCycle(client); // warm: class loading and the gRPC channel are not what is measured here
            BlockingQueue<String> hostile = hostile(NOBODY, 64, 20);
            await(hostile, "connected 64");
            eventually(() -> fdSocket.stats().openConnections() == 64, "the loop accepted all 64 idle connections");

            legitimateCycle(client);
            // The idle connections were all still open while the ticket was served: it did not wait behind them.
            assertThat(fdSocket.stats().droppedIdle()).isZero();

            for (int i = 0; i < 64; i++) assertThat(await(hostile, "reply ")).contains("no ticket within 1000 ms");
            assertThat(await(hostile, "open ")).isEqualTo("open 0");
            assertThat(fdSocket.stats().droppedIdle()).isEqualTo(64);
            eventually(() -> fdSocket.stats().openConnections() == 0, "every slot returned");
            legitimateCycle(client);
        }
    }

    @Test
    void connectionsOverAUidsCapAreRefusedOthersCantTakeTheAdminReserveAndRootStillGetsThrough() throws Exception {
        start(new QuotaProperties.Fd(Duration.ofSeconds(60), 4, 8, 2, 2));
        BlockingQueue<String> nobody = hostile(NOBODY, 6, 2);
        await(nobody, "connected 6");
        List<String> refusals = List.of(await(nobody, "reply "), await(nobody, "reply "));
        assertThat(refusals).allSatisfy(r -> assertThat(r).contains("uid 65534 already has 4 open fd.sock connections")
                .contains("vfio-broker.quota.fd.per-uid=4"));
        assertThat(await(nobody, "open ")).isEqualTo("open 4");

        BlockingQueue<String> other = hostile(OTHER, 4, 2);
        await(other, "connected 4");
        assertThat(List.of(await(other, "reply "), await(other, "reply "))).allSatisfy(r -> assertThat(r)
                .contains("the 6 fd.sock connections open to non-admin users are all in use").contains("uid 65533"));
        assertThat(await(other, "open ")).isEqualTo("open 2");
        assertThat(fdSocket.stats().refusedOverQuota()).isEqualTo(4);

        // Root is in the reserve: its redeem goes through with 6 of 8 slots held by others.
        try (VfioBrokerClient client = VfioBrokerClient.connect(run)) {
            legitimateCycle(client);
        }
        assertThat(fdSocket.stats().refusedOverQuota()).isEqualTo(4);
    }

    private String send(byte[] message, int... fds) {
        try (OwnedFd c = UnixSockets.connect(fdSocket.path(), SocketType.SEQPACKET)) {
            UnixSockets.sendFds(c.fd(), message, fds);
            assertThat(Posix.awaitReadable(c.fd(), 10_000)).as("an answer").isTrue();
            try (ReceivedMessage m = UnixSockets.recvFds(c.fd(), 65536, 8)) {
                return FdBundle.parseFrom(m.payload()).getError();
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new AssertionError(e);
            }
        }
    }

    @Test
    void garbageOversizedAndFdCarryingMessagesDoNotKillTheServer() throws Exception {
        start(new QuotaProperties.Fd(Duration.ofSeconds(1), 8, 64, 8, 2));
        assertThat(send(new byte[4096])).contains("at most 256 bytes");
        byte[] junk = new byte[200];
        new java.util.Random(7).nextBytes(junk);
        assertThat(send(junk)).contains("unknown, already used or expired ticket");
        try (OwnedFd extra = Posix.open(Path.of("/dev/null"), 0)) {
            assertThat(send("ticket".getBytes(StandardCharsets.US_ASCII), extra.fd())).contains("no fds");
        }
        for (int i = 0; i < 20; i++) {
            // connect and vanish, connect and half-close: nothing to answer, nothing may break
            UnixSockets.connect(fdSocket.path(), SocketType.SEQPACKET).close();
            try (OwnedFd c = UnixSockets.connect(fdSocket.path(), SocketType.SEQPACKET)) {
                UnixSockets.shutdown(c.fd(), io.vfiobroker.nativeshim.LibcAbi.SHUT_WR);
            }
        }
        eventually(() -> fdSocket.stats().openConnections() == 0, "every slot returned");
        try (VfioBrokerClient client = VfioBrokerClient.connect(run)) {
            legitimateCycle(client);
        }
        assertThat(Thread.getAllStackTraces().keySet()).anySatisfy(t -> assertThat(t.getName()).isEqualTo("fd-socket-loop"));
    }
}
