package io.vfiobroker.dra;

import io.vfiobroker.api.dra.v1.Device;
import io.vfiobroker.api.dra.v1.NodePrepareResourceResponse;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.core.DeviceAccess;
import io.vfiobroker.nodeplugin.KubeletAllocationHook;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.policy.PolicyService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;

class DraPluginTest {

    static final String DRIVER = "vfio.vfio-broker.io";
    static final String NODE = "node-a";
    static final String POOL = NODE + "-x710-vf";
    static final JsonMapper JSON = JsonMapper.builder().build();

    @TempDir
    Path dir;
    Path root;
    SimulatedKernelHost host;
    InventoryScanner scanner;
    BindingService binding;
    DraPlugin plugin;
    FakeDraKubelet kubelet;
    final Map<String, JsonNode> apiServer = new ConcurrentHashMap<>();
    final Map<String, String> serviceAccounts = new ConcurrentHashMap<>();
    final List<String> principals = new ArrayList<>();
    DeviceAccess access = (p, d, i) -> {
        principals.add(p.kubernetesResource());
        return Optional.empty();
    };

    static PoolConfig x710() {
        return new PoolConfig("x710-vf", null, null, java.util.Map.of("vendorDevice", List.of("8086:154c"), "driver", List.of("iavf")));
    }

    private void host(HostSpec spec) {
        root = HostTreeGenerator.generate(spec, dir.resolve("h"));
        host = new SimulatedKernelHost(root);
        scanner = new InventoryScanner(host, PciIds.empty());
        newBinding();
    }

    private void newBinding() {
        binding = new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.DEFAULT);
    }

    /** The daemon side: driver, plugin sockets; and a kubelet that registers it. */
    private void start() throws Exception {
        DraProperties props = DraProperties.of(NODE, List.of(x710()));
        ClaimSource source = ref -> {
            JsonNode c = apiServer.get(ref.namespace() + "/" + ref.name());
            if (c == null) throw new DraException("claim " + ref.describe() + " not found");
            return ResourceClaims.parse(ref, c, DRIVER, serviceAccounts.get(ref.namespace() + "/" + ref.name()));
        };
        DraDriver driver = new DraDriver(props, host, new DeviceProvisioning(scanner, binding, (w, d, i) -> access.refusal(w, d, i)), KubeletAllocationHook.NONE,
                source, dir.resolve("state"));
        plugin = new DraPlugin(props, host, driver);
        plugin.start();
        kubelet = new FakeDraKubelet(root);
        kubelet.register();
    }

    private void restartDaemon() throws Exception {
        kubelet.close();
        plugin.close();
        newBinding();
        start();
    }

    @AfterEach
    void tearDown() {
        if (kubelet != null) kubelet.close();
        if (plugin != null) plugin.close();
    }

    private List<PciAddress> vfs() {
        return scanner.scan().devices().stream().filter(io.vfiobroker.domain.Device::isVirtualFunction)
                .map(io.vfiobroker.domain.Device::address).toList();
    }

    private String driverOf(PciAddress a) {
        return scanner.device(a).orElseThrow().driver();
    }

    /** A ResourceClaim as the API server has it after scheduling: one request "vfs" of the given devices. */
    private void allocated(String ns, String name, String uid, List<PciAddress> devices, String... claimConfigs) {
        StringBuilder results = new StringBuilder();
        for (PciAddress a : devices) {
            if (!results.isEmpty()) results.append(',');
            results.append("""
                    {"request":"vfs","driver":"%s","pool":"%s","device":"%s"}""".formatted(DRIVER, POOL, DraDriver.deviceName(a)));
        }
        StringBuilder config = new StringBuilder("""
                {"source":"FromClass","requests":[],"opaque":{"driver":"%s","parameters":{"apiVersion":"vfio-broker.io/v1","kind":"VfioDeviceConfig","backend":"legacy"}}},
                {"source":"FromClass","requests":[],"opaque":{"driver":"gpu.example.com","parameters":{"whatever":1}}}""".formatted(DRIVER));
        for (String c : claimConfigs) {
            config.append(",\n").append("""
                    {"source":"FromClaim","requests":["vfs"],"opaque":{"driver":"%s","parameters":%s}}""".formatted(DRIVER, c));
        }
        apiServer.put(ns + "/" + name, JSON.readTree("""
                {"apiVersion":"resource.k8s.io/v1","kind":"ResourceClaim",
                 "metadata":{"namespace":"%s","name":"%s","uid":"%s"},
                 "spec":{"devices":{"requests":[{"name":"vfs","exactly":{"deviceClassName":"vfio-x710","count":%d}}]}},
                 "status":{"allocation":{"devices":{"results":[%s],"config":[%s]}},
                           "reservedFor":[{"resource":"pods","name":"p","uid":"1111"}]}}
                """.formatted(ns, name, uid, devices.size(), results, config)));
    }

    @Test
    void registersAsADraPluginWithTheV1AndV1beta1Services() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start();
        assertThat(kubelet.info.getType()).isEqualTo("DRAPlugin");
        assertThat(kubelet.info.getName()).isEqualTo(DRIVER);
        assertThat(kubelet.info.getEndpoint()).isEqualTo("/var/lib/kubelet/plugins/" + DRIVER + "/dra.sock");
        assertThat(kubelet.info.getSupportedVersionsList()).containsExactly("v1.DRAPlugin", "v1beta1.DRAPlugin");
        assertThat(root.resolve("var/lib/kubelet/plugins_registry/" + DRIVER + "-reg.sock")).exists();
        assertThat(plugin.registered()).isTrue();
        // The gRPC service names the kubelet dials, exactly.
        assertThat(io.vfiobroker.api.dra.v1.DRAPluginGrpc.SERVICE_NAME).isEqualTo("k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin");
        assertThat(io.vfiobroker.api.dra.v1beta1.DRAPluginGrpc.SERVICE_NAME).isEqualTo("k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin");
        assertThat(io.vfiobroker.api.pluginregistration.v1.RegistrationGrpc.SERVICE_NAME).isEqualTo("pluginregistration.Registration");
    }

    @Test
    void prepareBindsBothDevicesWritesTheCdiSpecIsIdempotentAndUnprepareRestoresTheDrivers() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start();
        List<PciAddress> vfs = vfs();
        String uid = "6d3c2f9e-0001-4c1e-9f00-aa0000000001";
        allocated("ml", "two-vfs", uid, vfs, """
                {"apiVersion":"vfio-broker.io/v1","kind":"VfioDeviceConfig","memlockLimit":"2Gi"}""");
        serviceAccounts.put("ml/two-vfs", "trainer");
        var claim = FakeDraKubelet.claim("ml", "two-vfs", uid);

        NodePrepareResourceResponse r = kubelet.prepare(claim);

        assertThat(r.getError()).isEmpty();
        List<String> expectedIds = vfs.stream().map(a -> DRIVER + "/claim=" + uid + "-" + DraDriver.deviceName(a)).toList();
        assertThat(r.getDevicesList()).extracting(Device::getDeviceName).containsExactly(
                vfs.stream().map(DraDriver::deviceName).toArray(String[]::new));
        assertThat(r.getDevicesList()).allSatisfy(d -> {
            assertThat(d.getPoolName()).isEqualTo(POOL);
            assertThat(d.getRequestNamesList()).containsExactly("vfs");
        });
        assertThat(r.getDevicesList()).flatExtracting(Device::getCdiDeviceIdsList).containsExactlyElementsOf(expectedIds);
        for (PciAddress a : vfs) assertThat(driverOf(a)).as(a.toString()).isEqualTo("vfio-pci");
        assertThat(principals).containsOnly("ml.serviceaccounts/trainer");

        // The CDI spec: one device per prepared device, with its group node and the container node.
        Path spec = root.resolve("var/run/cdi/" + DRIVER + "-claim.json");
        JsonNode s = JSON.readTree(Files.readString(spec));
        assertThat(s.get("kind").asString()).isEqualTo(DRIVER + "/claim");
        assertThat(s.get("devices")).hasSize(2);
        for (int i = 0; i < 2; i++) {
            PciAddress a = vfs.get(i);
            JsonNode d = s.get("devices").get(i);
            int group = scanner.device(a).orElseThrow().iommuGroup();
            assertThat(d.get("name").asString()).isEqualTo(uid + "-" + DraDriver.deviceName(a));
            List<String> nodes = new ArrayList<>();
            d.get("containerEdits").get("deviceNodes").forEach(n -> nodes.add(n.get("path").asString()));
            assertThat(nodes).containsExactly("/dev/vfio/vfio", "/dev/vfio/" + group);
            assertThat(root.resolve("dev/vfio/" + group)).exists();
            List<String> env = new ArrayList<>();
            d.get("containerEdits").get("env").forEach(n -> env.add(n.asString()));
            assertThat(env).contains("VFIO_BROKER_MEMLOCK_LIMIT=" + (2L << 30));
        }
        assertThat(dir.resolve("state/" + PreparedClaims.FILE)).exists();

        // Again: the same answer, nothing bound twice, the spec unchanged.
        String before = Files.readString(spec);
        long changes = binding.changes();
        assertThat(kubelet.prepare(claim)).isEqualTo(r);
        assertThat(binding.changes()).isEqualTo(changes);
        assertThat(Files.readString(spec)).isEqualTo(before);

        assertThat(kubelet.unprepare(claim).getError()).isEmpty();
        for (PciAddress a : vfs) assertThat(driverOf(a)).as(a.toString()).isEqualTo("iavf");
        assertThat(spec).doesNotExist();
        assertThat(binding.status()).isEmpty();
        // Unprepare of a claim no longer prepared is a success: the kubelet retries freely.
        assertThat(kubelet.unprepare(claim).getError()).isEmpty();
    }

    @Test
    void aBadClaimConfigFailsPrepareNamingTheFieldWithNothingBound() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start();
        List<PciAddress> vfs = vfs();
        allocated("ml", "bad", "uid-bad-1", vfs, """
                {"apiVersion":"vfio-broker.io/v1","kind":"VfioDeviceConfig","backend":"vfio-magic"}""");
        NodePrepareResourceResponse r = kubelet.prepare(FakeDraKubelet.claim("ml", "bad", "uid-bad-1"));
        assertThat(r.getError()).contains("field backend").contains("\"legacy\" or \"iommufd\"").contains("ml/bad")
                .contains("from the claim");
        assertThat(r.getDevicesList()).isEmpty();

        allocated("ml", "bad2", "uid-bad-2", vfs, """
                {"apiVersion":"vfio-broker.io/v1","memlockLimit":"lots"}""");
        assertThat(kubelet.prepare(FakeDraKubelet.claim("ml", "bad2", "uid-bad-2")).getError()).contains("field memlockLimit");
        allocated("ml", "bad3", "uid-bad-3", vfs, """
                {"apiVersion":"vfio-broker.io/v2","keepBound":true}""");
        assertThat(kubelet.prepare(FakeDraKubelet.claim("ml", "bad3", "uid-bad-3")).getError()).contains("field apiVersion");
        allocated("ml", "bad4", "uid-bad-4", vfs, """
                {"apiVersion":"vfio-broker.io/v1","keepbound":true}""");
        assertThat(kubelet.prepare(FakeDraKubelet.claim("ml", "bad4", "uid-bad-4")).getError()).contains("unknown field keepbound");

        for (PciAddress a : vfs) assertThat(driverOf(a)).isEqualTo("iavf");
        assertThat(binding.status()).isEmpty();
        assertThat(root.resolve("var/run/cdi/" + DRIVER + "-claim.json")).doesNotExist();
        assertThat(plugin.registered()).isTrue();
    }

    @Test
    void policyDecidesWithTheClaimAsPrincipalAndARefusalBindsNothing() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        Path policyFile = dir.resolve("policy.yaml");
        Files.writeString(policyFile, """
                version: 1
                rules:
                  - name: ml-trainer
                    action: allow
                    devices: { vendorDevice: "8086:154c" }
                    principals: { kubernetesResource: "ml.serviceaccounts/trainer" }
                """);
        try (PolicyService policy = new PolicyService(policyFile, scanner)) {
            access = DeviceAccess.policy(policy);
            start();
            List<PciAddress> vfs = vfs();
            allocated("web", "stolen", "uid-w", vfs);
            NodePrepareResourceResponse refused = kubelet.prepare(FakeDraKubelet.claim("web", "stolen", "uid-w"));
            assertThat(refused.getError()).contains("policy refuses").contains("web.resourceclaims/stolen");
            for (PciAddress a : vfs) assertThat(driverOf(a)).isEqualTo("iavf");

            allocated("ml", "ok", "uid-ok", vfs.subList(0, 1));
            serviceAccounts.put("ml/ok", "trainer");
            assertThat(kubelet.prepare(FakeDraKubelet.claim("ml", "ok", "uid-ok")).getError()).isEmpty();
            assertThat(driverOf(vfs.get(0))).isEqualTo("vfio-pci");
            assertThat(driverOf(vfs.get(1))).isEqualTo("iavf");
        }
    }

    @Test
    void aDeviceOfAnotherPoolOrAlreadyPreparedIsRefused() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start();
        List<PciAddress> vfs = vfs();
        allocated("ml", "a", "uid-a", vfs.subList(0, 1));
        assertThat(kubelet.prepare(FakeDraKubelet.claim("ml", "a", "uid-a")).getError()).isEmpty();
        allocated("ml", "b", "uid-b", vfs);
        assertThat(kubelet.prepare(FakeDraKubelet.claim("ml", "b", "uid-b")).getError()).contains("is prepared for claim ml/a");
        assertThat(driverOf(vfs.get(1))).isEqualTo("iavf");
        // The PF is on the host but in no pool of ours.
        PciAddress pf = scanner.device(vfs.get(0)).orElseThrow().physicalFunction();
        allocated("ml", "c", "uid-c", List.of(pf));
        assertThat(kubelet.prepare(FakeDraKubelet.claim("ml", "c", "uid-c")).getError()).contains("does not belong to pool " + POOL);
    }

    @Test
    void theCheckpointSurvivesADaemonRestartSoUnprepareStillRestores() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start();
        List<PciAddress> vfs = vfs();
        allocated("ml", "two", "uid-r", vfs);
        var claim = FakeDraKubelet.claim("ml", "two", "uid-r");
        NodePrepareResourceResponse first = kubelet.prepare(claim);
        assertThat(first.getError()).isEmpty();
        Path spec = root.resolve("var/run/cdi/" + DRIVER + "-claim.json");
        Files.delete(spec); // /var/run is a tmpfs: a node reboot loses it, the checkpoint restores it

        restartDaemon();
        assertThat(spec).exists();
        apiServer.clear(); // the claim may be gone from the API server by now: Unprepare needs only the checkpoint
        assertThat(kubelet.prepare(claim)).isEqualTo(first);
        for (PciAddress a : vfs) assertThat(driverOf(a)).isEqualTo("vfio-pci");

        assertThat(kubelet.unprepare(claim).getError()).isEmpty();
        for (PciAddress a : vfs) assertThat(driverOf(a)).isEqualTo("iavf");
        assertThat(JSON.readTree(Files.readString(dir.resolve("state/" + PreparedClaims.FILE))).size()).isZero();
    }

    @Test
    void keepBoundLeavesTheDevicesOnVfioAtUnprepareAndV1beta1SpeaksTheSameService() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start();
        List<PciAddress> vfs = vfs();
        allocated("ml", "keep", "uid-k", vfs.subList(1, 2), """
                {"apiVersion":"vfio-broker.io/v1","keepBound":true,"memlockLimit":1048576}""");
        var beta = io.vfiobroker.api.dra.v1beta1.DRAPluginGrpc.newBlockingStub(kubelet.plugin());
        var c = io.vfiobroker.api.dra.v1beta1.Claim.newBuilder().setNamespace("ml").setName("keep").setUid("uid-k").build();
        var r = beta.nodePrepareResources(io.vfiobroker.api.dra.v1beta1.NodePrepareResourcesRequest.newBuilder().addClaims(c).build());
        assertThat(r.getClaimsMap().get("uid-k").getError()).isEmpty();
        assertThat(r.getClaimsMap().get("uid-k").getDevices(0).getCdiDeviceIds(0)).isEqualTo(DRIVER + "/claim=uid-k-" + DraDriver.deviceName(vfs.get(1)));
        var u = beta.nodeUnprepareResources(io.vfiobroker.api.dra.v1beta1.NodeUnprepareResourcesRequest.newBuilder().addClaims(c).build());
        assertThat(u.getClaimsMap()).containsKey("uid-k");
        assertThat(u.getClaimsMap().get("uid-k").getError()).isEmpty();
        assertThat(driverOf(vfs.get(1))).isEqualTo("vfio-pci");
        assertThat(JSON.readTree(Files.readString(dir.resolve("state/" + PreparedClaims.FILE))).size()).isZero();
    }
}
