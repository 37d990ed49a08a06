package io.vfiobroker.kubelet;

import io.vfiobroker.core.DeviceAccess;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.iommu.VfioKernelModel;
import io.vfiobroker.iommu.VfioDomainOpener;
import io.grpc.BindableService;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vfiobroker.accounting.Memlock;
import io.vfiobroker.api.deviceplugin.v1beta1.AllocateRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateResponse;
import io.vfiobroker.api.v1.Backend;
import io.vfiobroker.audit.AuditLog;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.broker.FdSocketServer;
import io.vfiobroker.client.AcquiredDevices;
import io.vfiobroker.client.VfioBrokerClient;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.grpc.GrpcServer;
import io.vfiobroker.grpc.LeasesGrpcService;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.lease.ChildClassPath;
import io.vfiobroker.lease.Lease;
import io.vfiobroker.lease.LeaseService;
import io.vfiobroker.nodeplugin.Allocations;
import io.vfiobroker.nodeplugin.KubeletAllocationHook;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.policy.PolicyService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

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
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Broker mode end to end: the fake kubelet's Allocate hands out an allocation token, and a client process running
 * as uid 65534 presents it on the real api socket and gets its fds over SCM_RIGHTS, granted by a
 * {@code kubernetesResource} rule; only the VFIO ioctls are the test twin.
 */
class KubeletBrokerAllocationTest {

    static final String RESOURCE = "vfio-broker.io/x710-vf";
    static final String ENDPOINT = "vfio-broker-x710-vf.sock";
    static final int NOBODY = 65534;

    Path dir;
    Path run;
    InventoryScanner scanner;
    PolicyService policy;
    LeaseService leases;
    AuditLog audit;
    FdSocketServer fdSocket;
    GrpcServer grpc;
    KubeletPlugins plugins;
    FakeKubelet kubelet;
    List<PciAddress> vfs;
    final BlockingQueue<Lease> changes = new LinkedBlockingQueue<>();
    final List<Process> children = new ArrayList<>();
    final List<ManagedChannel> channels = new ArrayList<>();

    Allocations allocations;

    @BeforeEach
    void start() throws Exception {
        // Short, world-traversable paths: socket paths are limited to 108 bytes and uid 65534 must reach them.
        dir = Files.createTempDirectory(Path.of("/tmp"), "vb-k-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 3), dir.resolve("host"));
        SimulatedKernelHost host = new SimulatedKernelHost(root);
        scanner = new InventoryScanner(host, PciIds.empty());
        Path policyFile = dir.resolve("policy.yaml");
        // Only the resource is granted, no uid: what the pod's client gets, it gets through its allocation.
        // memlockPerLease unlimited: prlimit on another uid needs CAP_SYS_RESOURCE, which this sandbox withholds.
        Files.writeString(policyFile, """
                version: 1
                rules:
                  - name: k8s-x710
                    action: allow
                    devices: { vendorDevice: "8086:154c" }
                    principals: { kubernetesResource: %s }
                    limits: { memlockPerLease: unlimited }
                """.formatted(RESOURCE));
        policy = new PolicyService(policyFile, scanner);
        Path state = dir.resolve("state");
        BindingService binding = new BindingService(host, scanner, new Journal(state), () -> BindingRules.of(policy.current()));
        Files.createDirectories(dir.resolve("fake"));
        audit = new AuditLog(state);
        leases = new LeaseService(host, scanner, binding, policy, new VfioDomainOpener(host, VfioKernelModel.of(host).standInFiles(dir.resolve("fake"))), new Memlock(), audit,
                Duration.ofSeconds(5));
        leases.addListener(changes::add);
        run = dir.resolve("run");
        Files.createDirectories(run);
        Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxr-xr-x"));
        fdSocket = new FdSocketServer(run.resolve("fd.sock"), leases);
        // The daemon names fd.sock by a path the "pod" cannot see (its mount is elsewhere): clients find it next to api.sock.
        Path nodeView = Path.of("/nonexistent-node-view/vfio-broker").resolve(fdSocket.path().getFileName());
        grpc = new GrpcServer(run.resolve("api.sock"), List.<BindableService>of(new LeasesGrpcService(leases, nodeView)));

        kubelet = new FakeKubelet(root.resolve("var/lib/kubelet/device-plugins")).start();
        PoolConfig pool = new PoolConfig("x710-vf", "broker", null,
                java.util.Map.of("vendorDevice", List.of("8086:154c")));
        KubeletProperties props = new KubeletProperties(true, null, null, null, null, run.toString(), Duration.ofHours(1), List.of(pool));
        allocations = new Allocations(Duration.ofHours(1));
        plugins = new KubeletPlugins(props, host, new DeviceProvisioning(scanner, binding, DeviceAccess.policy(policy)),
                KubeletAllocationHook.leases(leases, allocations));
        plugins.start();
        kubelet.nextRegistration();
        vfs = scanner.scan().devices().stream().filter(io.vfiobroker.domain.Device::isVirtualFunction)
                .map(io.vfiobroker.domain.Device::address).toList();
    }

    @AfterEach
    void stop() throws Exception {
        children.forEach(Process::destroyForcibly);
        channels.forEach(ManagedChannel::shutdownNow);
        plugins.close();
        kubelet.close();
        grpc.close();
        fdSocket.close();
        leases.close();
        policy.close();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private ContainerAllocateResponse allocate(PciAddress... devices) {
        ManagedChannel ch = kubelet.plugin(ENDPOINT);
        channels.add(ch);
        return kubelet.blocking(ch).allocate(AllocateRequest.newBuilder().addContainerRequests(ContainerAllocateRequest.newBuilder()
                .addAllDevicesIds(Stream.of(devices).map(PciAddress::toString).toList())).build()).getContainerResponses(0);
    }

    /** `vfio-broker client --hold` as uid 65534, socket and token from the env as the device plugin sets them. */
    private Process podClient(String token) throws IOException {
        Path cp = ChildClassPath.worldReadable();
        ProcessBuilder pb = new ProcessBuilder("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-XX:TieredStopAtLevel=1",
                "-Dlogback.configurationFile=vfio-broker-cli-logback.xml", "-cp", cp + "/*:" + cp + "/classes",
                "io.vfiobroker.cli.Main", "client", "--hold").redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put(VfioBrokerClient.SOCKET_ENV, run.resolve("api.sock").toString());
        pb.environment().put(VfioBrokerClient.ALLOCATION_ENV, token);
        Process p = pb.start();
        children.add(p);
        return p;
    }

    /** The client's JSON line, once it holds the lease (or has printed its error). */
    private static JsonNode result(Process p) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        JsonNode json = null;
        for (String line; (line = r.readLine()) != null; ) {
            if (line.startsWith("{\"pid\"")) json = JsonMapper.builder().build().readTree(line);
            if (line.equals("HOLDING") || (json != null && json.has("error"))) return json;
        }
        throw new AssertionError("client ended without a result" + (json == null ? "" : ": " + json));
    }

    private Lease nextChange(String id, Lease.State state) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            Lease l = changes.poll(1, TimeUnit.SECONDS);
            if (l != null && l.id().equals(id) && l.state() == state) return l;
        }
        throw new AssertionError("lease " + id + " never reached " + state);
    }

    private VfioBrokerClient client(String token) {
        return VfioBrokerClient.connectSocket(run.resolve("api.sock")).withAllocation(token);
    }

    private static void refused(Runnable call, Status.Code code, String message) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(code);
            assertThat(e.getStatus().getDescription()).contains(message);
        });
    }

    @Test
    void aPodClientAcquiresWithItsAllocationTokenAsTheResourceOneLeaseAtATime() throws Exception {
        PciAddress vf = vfs.get(0);
        ContainerAllocateResponse r = allocate(vf);
        String token = r.getEnvsMap().get(VfioBrokerClient.ALLOCATION_ENV);
        assertThat(token).matches("[A-Za-z0-9_-]{43}");
        assertThat(r.getEnvsMap()).containsEntry(VfioBrokerClient.SOCKET_ENV, "/run/vfio-broker/api.sock");
        assertThat(scanner.device(vf).orElseThrow().driver()).as("Allocate binds nothing in broker mode").isEqualTo("iavf");

        // No device named: the client takes the whole allocation.
        Process p = podClient(token);
        JsonNode got = result(p);
        assertThat(got.has("error")).as("client result %s", got).isFalse();
        assertThat(got.get("uid").asInt()).isEqualTo(NOBODY);
        assertThat(got.get("fds").toString()).contains("KIND_CONTAINER", "KIND_DEVICE");
        Lease lease = leases.get(got.get("lease").asString()).orElseThrow();
        assertThat(lease.state()).isEqualTo(Lease.State.ACTIVE);
        assertThat(lease.holder().uid()).isEqualTo(NOBODY);
        assertThat(lease.holder().pid()).isEqualTo(p.pid());
        assertThat(lease.rule()).as("granted by the kubernetesResource rule").isEqualTo("k8s-x710");
        assertThat(lease.devices()).extracting(Lease.Device::address).containsExactly(vf);
        assertThat(audit.readAll()).filteredOn(a -> a.event().equals("lease-granted")).last().satisfies(a -> {
            assertThat(a.fields()).containsEntry("lease", lease.id()).containsEntry("kubernetesResource", RESOURCE)
                    .containsEntry("uid", Integer.toString(NOBODY)).containsEntry("rule", "k8s-x710");
        });

        // One lease per allocation: a second client with the same token is refused while the first holds it.
        try (VfioBrokerClient second = client(token)) {
            refused(() -> second.acquire(List.of(), Backend.BACKEND_UNSPECIFIED, 0), Status.Code.FAILED_PRECONDITION,
                    "is held by lease " + lease.id());
        }
        // Without the token the resource rule does not apply: the uid alone is granted nothing.
        try (VfioBrokerClient bare = client(null)) {
            refused(() -> bare.acquire(List.of(vfs.get(1).toString()), Backend.BACKEND_UNSPECIFIED, 0), Status.Code.PERMISSION_DENIED, "uid 0");
        }

        // The container ends; a restarted one (same env, no new Allocate) acquires again with the same token.
        p.getOutputStream().write("release\n".getBytes());
        p.getOutputStream().flush();
        assertThat(nextChange(lease.id(), Lease.State.ENDED).endReason()).isEqualTo("released by holder");
        AcquiredDevices again;
        try (VfioBrokerClient restarted = client(token)) {
            again = restarted.acquire(List.of(vf.toString()), Backend.BACKEND_UNSPECIFIED, 0);
            assertThat(again.fds()).hasSize(3);

            // The kubelet gives the devices to another container: the old token is gone and its lease ended.
            String next = allocate(vf).getEnvsMap().get(VfioBrokerClient.ALLOCATION_ENV);
            assertThat(next).isNotEqualTo(token);
            assertThat(nextChange(again.lease().getId(), Lease.State.ENDED).endReason()).contains("allocated its devices to another container");
            refused(() -> restarted.acquire(List.of(), Backend.BACKEND_UNSPECIFIED, 0), Status.Code.PERMISSION_DENIED,
                    "unknown or expired allocation token");
            again.fds().forEach(f -> f.close());
        }
    }

    @Test
    void aTokenCoversOnlyItsDevicesAndBogusOrExpiredTokensAreRefused() throws Exception {
        String token = allocate(vfs.get(1)).getEnvsMap().get(VfioBrokerClient.ALLOCATION_ENV);
        try (VfioBrokerClient c = client(token)) {
            refused(() -> c.acquire(List.of(vfs.get(2).toString()), Backend.BACKEND_UNSPECIFIED, 0), Status.Code.PERMISSION_DENIED,
                    vfs.get(2) + " is not part of the allocation of " + RESOURCE + " [" + vfs.get(1) + "]");
            refused(() -> c.acquire(List.of(vfs.get(1).toString(), vfs.get(2).toString()), Backend.BACKEND_UNSPECIFIED, 0),
                    Status.Code.PERMISSION_DENIED, "not part of the allocation");
        }
        assertThat(scanner.device(vfs.get(2)).orElseThrow().driver()).isEqualTo("iavf");
        try (VfioBrokerClient c = client("bogus-token")) {
            refused(() -> c.acquire(List.of(vfs.get(1).toString()), Backend.BACKEND_UNSPECIFIED, 0), Status.Code.PERMISSION_DENIED,
                    "unknown or expired allocation token");
        }
        try (VfioBrokerClient c = client("x".repeat(65))) {
            refused(() -> c.acquire(List.of(), Backend.BACKEND_UNSPECIFIED, 0), Status.Code.INVALID_ARGUMENT, "allocation of 65 characters");
        }

        allocations.ttl(Duration.ofMillis(200));
        String shortLived = allocate(vfs.get(2)).getEnvsMap().get(VfioBrokerClient.ALLOCATION_ENV);
        Thread.sleep(400);
        try (VfioBrokerClient c = client(shortLived)) {
            refused(() -> c.acquire(List.of(), Backend.BACKEND_UNSPECIFIED, 0), Status.Code.PERMISSION_DENIED, "stayed unclaimed longer than");
        }
        assertThat(leases.active()).isEmpty();
        // Device-node pools get no token: the container opens the nodes itself.
        assertThat(KubeletAllocationHook.leases(leases, allocations).allocated(RESOURCE, PoolConfig.Mode.DEVICE_NODES, List.of(vfs.get(0)))).isEmpty();
    }
}
