package io.vfiobroker.e2e;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * [V13] The DRA driver on the real kernel (e2e/vm/scenarios/dra.sh, last part of the leases boot): a fake kubelet
 * registers the plugin over the kubelet's sockets and prepares one claim of two edu, 0000:00:02.0 from a
 * device-nodes pool and 0000:00:01.0 from a broker pool. The API server is stood in for by the probe (the guest has
 * none); the kernel, vfio-pci, the gRPC, the CDI spec and its nodes are real.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(value = 90, unit = TimeUnit.MINUTES)
@Part(boot = Matrix.LEASES, script = "dra.sh")
class DraIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DRIVER = "vfio.vfio-broker.io";
    private static final String NODES_DEV = "0000:00:02.0";
    private static final String BROKER_DEV = "0000:00:01.0";

    @BeforeAll
    void bootAll() {
        Matrix.submitAll();
    }

    private static VmResult vm(Kernel kernel, Iommu iommu) {
        return Matrix.get(Matrix.LEASES, kernel, iommu);
    }

    private static ProbeOutput kubelet(VmResult vm) {
        return ProbeOutput.of(vm, "dra/kubelet");
    }

    private static String claimUid(VmResult vm) {
        return JSON.readTree(vm.text("dra/claim.json")).path("metadata").path("uid").asString();
    }

    private static List<String> strings(JsonNode array) {
        return array.valueStream().map(JsonNode::asString).toList();
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void theKubeletRegistersThePluginAndPrepareReadsTheClaimFromTheApiServer(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        ProbeOutput k = kubelet(vm);
        JsonNode reg = k.last("registered");
        assertThat(reg.get("socket").asString()).isEqualTo("/var/lib/kubelet/plugins_registry/" + DRIVER + "-reg.sock");
        assertThat(reg.get("type").asString()).isEqualTo("DRAPlugin");
        assertThat(reg.get("name").asString()).isEqualTo(DRIVER);
        assertThat(reg.get("endpoint").asString()).isEqualTo("/var/lib/kubelet/plugins/" + DRIVER + "/dra.sock");
        assertThat(strings(reg.get("versions"))).contains("v1.DRAPlugin", "v1beta1.DRAPlugin");
        assertThat(vm.text("dra/daemon-events.log")).contains("event=dra-plugin-registered driver=" + DRIVER);
        // The claim and its pod (for the principal) came over HTTP from the stand-in, as from the API server.
        assertThat(k.all("api-get").stream().filter(g -> g.get("status").asInt() == 200).map(g -> g.get("path").asString()).toList())
                .contains("/apis/resource.k8s.io/v1/namespaces/e2e/resourceclaims/edu", "/api/v1/namespaces/e2e/pods/edu-pod");
        assertThat(vm.text("dra/daemon-events.log")).as("policy's principal is the pod's service account")
                .containsPattern("event=dra-claim-prepared claim=e2e/edu uid=" + claimUid(vm) + " principal=e2e.serviceaccounts/edu-client");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void prepareAnswersOneCdiIdPerDeviceAndBindsOnlyTheDeviceNodesOne(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        ProbeOutput k = kubelet(vm);
        JsonNode first = k.all("prepared").get(0);
        assertThat(first.get("error").asString()).as("%s", k).isEmpty();
        String uid = claimUid(vm);
        assertThat(first.get("devices").valueStream().map(d -> strings(d.get("requestNames")) + " " + d.get("poolName").asString() + " "
                + d.get("deviceName").asString() + " " + strings(d.get("cdiDeviceIds"))).toList()).containsExactlyInAnyOrder(
                "[nodes] guest-edu-nodes 0000-00-02-0 [" + DRIVER + "/claim=" + uid + "-0000-00-02-0]",
                "[broker] guest-edu-broker 0000-00-01-0 [" + DRIVER + "/claim=" + uid + "-0000-00-01-0]");
        assertThat(vm.text("dra/driver-nodes-before").strip()).isEqualTo("none");
        assertThat(vm.text("dra/driver-nodes-prepared").strip()).isEqualTo("vfio-pci");
        // Broker mode binds at the client's Acquire, not at Prepare.
        assertThat(vm.text("dra/driver-broker-prepared").strip()).isEqualTo("none");
        System.out.printf("[V13] %s %s: Prepare %d ms, again %d ms, Unprepare %d ms; %s%n", kernel, iommu, first.get("tookMs").asLong(),
                k.last("prepared").get("tookMs").asLong(), k.last("unprepared").get("tookMs").asLong(),
                vm.text("part-times.txt").lines().filter(l -> l.startsWith("dra.sh")).findFirst().orElse("dra.sh: no time"));
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void theCdiSpecsDeviceNodesExistAndADeviceNodesWorkloadDmasThroughThem(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        ProbeOutput k = kubelet(vm);
        JsonNode cdi = k.all("cdi").get(0);
        assertThat(strings(cdi.get("specFiles"))).containsExactly("/var/run/cdi/" + DRIVER + "-claim.json");
        assertThat(strings(cdi.get("unresolved"))).isEmpty();
        String group = vm.text("dra/group-nodes").strip();
        assertThat(strings(cdi.get("deviceNodes"))).containsExactlyInAnyOrder("/dev/vfio/vfio", "/dev/vfio/" + group);
        List<String> stat = vm.text("dra/nodes-stat.txt").lines().toList();
        assertThat(stat).as("each node the spec lists, in the node's /dev").hasSize(2)
                .allSatisfy(l -> assertThat(l).contains(" character special file "));
        assertThat(JSON.readTree(vm.text("dra/spec.json")).get("kind").asString()).isEqualTo(DRIVER + "/claim");
        JsonNode dma = k.last("nodes-dma");
        assertThat(dma.has("error")).as("%s", k).isFalse();
        assertThat(dma.get("results").size()).isEqualTo(1);
        JsonNode r = dma.get("results").get(0);
        assertThat(r.get("device").asString()).isEqualTo(NODES_DEV);
        assertThat(strings(r.get("nodes"))).containsExactly("/dev/vfio/vfio", "/dev/vfio/" + group);
        assertThat(r.path("error").isMissingNode()).as("%s", r).isTrue();
        assertThat(r.get("roundTrip").asBoolean()).as("%s", r).isTrue();
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void aClientWithTheSpecsEnvAndMountsAcquiresTheBrokerDeviceAndDmas(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        JsonNode cdi = kubelet(vm).all("cdi").get(0);
        List<String> env = strings(cdi.get("env"));
        assertThat(env).contains("VFIO_BROKER_SOCKET=/run/vfio-broker/api.sock", "VFIO_BROKER_MEMLOCK_LIMIT=8388608",
                "VFIO_BROKER_DEVICE_0000_00_01_0=" + BROKER_DEV, "VFIO_BROKER_DEVICE_0000_00_02_0=" + NODES_DEV);
        assertThat(env).anySatisfy(e -> assertThat(e).matches("VFIO_BROKER_ALLOCATION=[A-Za-z0-9_-]{43}"));
        assertThat(strings(cdi.get("mounts"))).containsExactly("/run/vfio-broker /run/vfio-broker bind,ro,nosuid,nodev");
        // The client ran under that mount, read-only: connect(2) on its socket still works.
        assertThat(vm.text("dra/client-mountinfo.txt")).containsPattern(" /run/vfio-broker ro[, ]");

        assertThat(vm.text("dra/client.rc").strip()).as("client stderr:\n%s", vm.text("dra/client.err")).isEqualTo("0");
        JsonNode c = JSON.readTree(vm.text("dra/client.out"));
        assertThat(c.get("uid").asInt()).isEqualTo(1000);
        assertThat(c.get("lease").asString()).isNotEmpty();
        assertThat(c.get("dmaMap").asString()).isEqualTo("ok");
        assertThat(c.get("dmaRoundTrip").asBoolean()).as("%s", c).isTrue();
        // It released on exit: restored, as a broker lease always is.
        assertThat(vm.text("dra/driver-broker-after-client").strip()).isEqualTo("none");
    }

    @ParameterizedTest(name = "{0} {1}", allowZeroInvocations = true)
    @MethodSource("io.vfiobroker.e2e.Matrix#leases")
    void prepareAgainGivesTheSameAnswerAndUnprepareRestoresTheDriverAndDropsTheSpec(Kernel kernel, Iommu iommu) {
        VmResult vm = vm(kernel, iommu);
        ProbeOutput k = kubelet(vm);
        List<JsonNode> prepared = k.all("prepared");
        assertThat(prepared).hasSize(2);
        assertThat(prepared.get(1).get("error").asString()).isEmpty();
        assertThat(prepared.get(1).get("devices")).isEqualTo(prepared.get(0).get("devices"));
        assertThat(k.last("unprepared").get("error").asString()).as("%s", k).isEmpty();
        assertThat(vm.text("dra/driver-nodes-after").strip()).isEqualTo(vm.text("dra/driver-nodes-before").strip());
        assertThat(vm.text("dra/driver-broker-after").strip()).isEqualTo(vm.text("dra/driver-broker-before").strip());
        assertThat(vm.text("dra/cdi-dir-after")).doesNotContain(DRIVER + "-claim.json");
        assertThat(vm.text("dra/daemon-events.log")).contains("event=dra-claim-unprepared claim=e2e/edu uid=" + claimUid(vm));
        assertThat(k.exitStatus()).isEqualTo("0");
    }
}
