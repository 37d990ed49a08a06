package io.vfiobroker.kubelet;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vfiobroker.api.deviceplugin.v1beta1.AllocateRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.CDIDevice;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerPreferredAllocationRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.Device;
import io.vfiobroker.api.deviceplugin.v1beta1.DeviceSpec;
import io.vfiobroker.api.deviceplugin.v1beta1.Empty;
import io.vfiobroker.api.deviceplugin.v1beta1.ListAndWatchResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.PreferredAllocationRequest;
import io.vfiobroker.api.deviceplugin.v1beta1.RegisterRequest;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.core.DeviceAccess;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.policy.PolicyService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class KubeletPluginTest {

    static final String RESOURCE = "vfio-broker.io/x710-vf";
    static final String ENDPOINT = "vfio-broker-x710-vf.sock";

    @TempDir
    Path dir;
    Path root;
    SimulatedKernelHost host;
    InventoryScanner scanner;
    BindingService binding;
    KubeletPlugins plugins;
    FakeKubelet kubelet;
    final List<ManagedChannel> channels = new ArrayList<>();
    final Set<PciAddress> withdrawn = ConcurrentHashMap.newKeySet();
    final List<List<PciAddress>> hookCalls = new ArrayList<>();
    DeviceAccess access = (w, d, i) -> withdrawn.contains(d) ? Optional.of("policy withdrew " + d + " from " + w.kubernetesResource()) : Optional.empty();

    static PoolConfig x710(PoolConfig.Mode mode, Backend backend) {
        return new PoolConfig("x710-vf", mode == null ? null : mode.name(), backend == null ? null : backend.wireName(),
                java.util.Map.of("vendorDevice", List.of("8086:154c"), "driver", List.of("iavf")));
    }

    private void host(HostSpec spec) {
        root = HostTreeGenerator.generate(spec, dir.resolve("host"));
        host = new SimulatedKernelHost(root);
        scanner = new InventoryScanner(host, PciIds.empty());
        binding = new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.DEFAULT);
    }

    private KubeletPlugins start(PoolConfig... pools) throws Exception {
        kubelet = new FakeKubelet(root.resolve("var/lib/kubelet/device-plugins")).start();
        // A long refresh interval: tests call refresh() themselves, so every change is deterministic.
        KubeletProperties props = new KubeletProperties(true, null, null, null, null, null, Duration.ofHours(1), List.of(pools));
        plugins = new KubeletPlugins(props, host, new DeviceProvisioning(scanner, binding, (w, d, i) -> access.refusal(w, d, i)), (r, m, d) -> {
            hookCalls.add(d);
            return Map.of();
        });
        plugins.start();
        return plugins;
    }

    private ManagedChannel channel() {
        ManagedChannel ch = kubelet.plugin(ENDPOINT);
        channels.add(ch);
        return ch;
    }

    private List<PciAddress> vfs() {
        return scanner.scan().devices().stream().filter(io.vfiobroker.domain.Device::isVirtualFunction)
                .map(io.vfiobroker.domain.Device::address).toList();
    }

    private ContainerAllocateResponse allocate(String... ids) {
        return kubelet.blocking(channel()).allocate(AllocateRequest.newBuilder()
                .addContainerRequests(ContainerAllocateRequest.newBuilder().addAllDevicesIds(List.of(ids))).build()).getContainerResponses(0);
    }

    @AfterEach
    void tearDown() throws Exception {
        channels.forEach(ManagedChannel::shutdownNow);
        if (plugins != null) plugins.close();
        if (kubelet != null) kubelet.close();
    }

    @Test
    void eachPoolRegistersWithTheKubeletUnderItsResourceName() throws Exception {
        host(HostSpec.sriovScale(2, 2));
        PoolConfig other = new PoolConfig("x710-pf", null, null,
                java.util.Map.of("vendorDevice", List.of("8086:1572")));
        start(x710(null, null), other);
        List<RegisterRequest> regs = List.of(kubelet.nextRegistration(), kubelet.nextRegistration());
        assertThat(regs).extracting(RegisterRequest::getResourceName).containsExactlyInAnyOrder(RESOURCE, "vfio-broker.io/x710-pf");
        RegisterRequest r = regs.stream().filter(x -> x.getResourceName().equals(RESOURCE)).findFirst().orElseThrow();
        assertThat(r.getVersion()).isEqualTo("v1beta1");
        assertThat(r.getEndpoint()).isEqualTo(ENDPOINT);
        assertThat(r.getOptions().getGetPreferredAllocationAvailable()).isTrue();
        assertThat(r.getOptions().getPreStartRequired()).isFalse();
        assertThat(kubelet.dir.resolve(ENDPOINT)).exists();
        assertThat(kubelet.blocking(channel()).getDevicePluginOptions(Empty.getDefaultInstance()).getGetPreferredAllocationAvailable()).isTrue();
    }

    @Test
    void aRestartedKubeletIsRegisteredWithAgainAndCanTalkToTheNewSocket() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start(x710(null, null));
        kubelet.nextRegistration();
        assertThat(plugins.registered(RESOURCE)).isTrue();

        // The kubelet goes away and comes back: it wipes the plugin sockets and recreates kubelet.sock.
        kubelet.stop();
        Files.deleteIfExists(kubelet.dir.resolve("kubelet.sock"));
        kubelet.start();
        RegisterRequest again = kubelet.nextRegistration();
        // Like the kubelet, talk to the plugin as of its latest registration: under load the plugin may see the
        // restart's socket events in more than one round and register more than once.
        for (RegisterRequest later; (later = kubelet.registrations.poll(1, java.util.concurrent.TimeUnit.SECONDS)) != null; ) again = later;
        assertThat(again.getResourceName()).isEqualTo(RESOURCE);
        assertThat(kubelet.dir.resolve(ENDPOINT)).exists();
        ListAndWatchResponse first = FakeKubelet.next(kubelet.watch(channel()));
        assertThat(first.getDevicesList()).hasSize(2);
    }

    @Test
    void listAndWatchStreamsDevicesWithNumaThenUnhealthyWhenOneVanishesOrIsWithdrawnAndHealthyWhenBack() throws Exception {
        host(HostSpec.sriovScale(2, 2));
        start(x710(null, null));
        kubelet.nextRegistration();
        BlockingQueue<ListAndWatchResponse> q = kubelet.watch(channel());
        ListAndWatchResponse first = FakeKubelet.next(q);
        List<PciAddress> vfs = vfs();
        assertThat(first.getDevicesList()).extracting(Device::getID).containsExactlyElementsOf(vfs.stream().map(PciAddress::toString).toList());
        assertThat(first.getDevicesList()).allMatch(d -> d.getHealth().equals("Healthy"));
        // Two PFs alternate over NUMA nodes 0 and 1; their VFs follow them.
        assertThat(first.getDevicesList()).extracting(d -> d.getTopology().getNodes(0).getID()).containsExactly(0L, 0L, 1L, 1L);

        // The VF disappears from sysfs (VFs disabled, device hot-removed).
        PciAddress gone = vfs.get(1);
        Path link = root.resolve("sys/bus/pci/devices/" + gone);
        Path target = Files.readSymbolicLink(link);
        Files.delete(link);
        plugins.refresh();
        ListAndWatchResponse second = FakeKubelet.next(q);
        assertThat(second.getDevicesList()).hasSize(4);
        assertThat(health(second, gone)).isEqualTo("Unhealthy");
        assertThat(plugins.devices().get(RESOURCE).get(gone.toString()).reason()).contains("gone from the host");

        Files.createSymbolicLink(link, target);
        plugins.refresh();
        assertThat(health(FakeKubelet.next(q), gone)).isEqualTo("Healthy");

        // Policy withdraws another one.
        withdrawn.add(vfs.get(2));
        plugins.refresh();
        assertThat(health(FakeKubelet.next(q), vfs.get(2))).isEqualTo("Unhealthy");
        // No change, no message.
        plugins.refresh();
        assertThat(q.poll()).isNull();
    }

    private static String health(ListAndWatchResponse r, PciAddress a) {
        return r.getDevicesList().stream().filter(d -> d.getID().equals(a.toString())).findFirst().orElseThrow().getHealth();
    }

    @Test
    void aRealPolicyThatStopsGrantingTheResourceMakesItsDevicesUnhealthy() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        Path policyFile = dir.resolve("policy.yaml");
        Files.writeString(policyFile, """
                version: 1
                rules:
                  - name: k8s-x710
                    action: allow
                    devices: { vendorDevice: "8086:154c" }
                    principals: { kubernetesResource: %s }
                """.formatted(RESOURCE));
        try (PolicyService policy = new PolicyService(policyFile, scanner)) {
            access = DeviceAccess.policy(policy);
            start(x710(null, null));
            kubelet.nextRegistration();
            BlockingQueue<ListAndWatchResponse> q = kubelet.watch(channel());
            assertThat(FakeKubelet.next(q).getDevicesList()).allMatch(d -> d.getHealth().equals("Healthy"));

            Files.writeString(policyFile, "version: 1\nrules: []\n");
            policy.reload();
            plugins.refresh();
            assertThat(FakeKubelet.next(q).getDevicesList()).allMatch(d -> d.getHealth().equals("Unhealthy"));
            assertThat(plugins.devices().get(RESOURCE).values().iterator().next().reason()).contains("no rule grants");
        }
    }

    @Test
    void allocateBindsTheWholeGroupInTheTreeAndAnswersVfioNodesEnvAndCdiNames() throws Exception {
        host(HostSpec.sriovScale(1, 3).withLayout(HostSpec.GroupLayout.SHARED));
        start(x710(null, null));
        kubelet.nextRegistration();
        PciAddress vf = vfs().get(0);
        int group = scanner.device(vf).orElseThrow().iommuGroup();

        ContainerAllocateResponse r = allocate(vf.toString());

        assertThat(r.getDevicesList()).extracting(DeviceSpec::getContainerPath).containsExactly("/dev/vfio/vfio", "/dev/vfio/" + group);
        assertThat(r.getDevicesList()).allMatch(d -> d.getHostPath().equals(d.getContainerPath()) && d.getPermissions().equals("rw"));
        assertThat(r.getEnvsMap()).containsEntry("PCIDEVICE_VFIO_BROKER_IO_X710_VF", vf.toString());
        JsonNode info = JsonMapper.builder().build().readTree(r.getEnvsMap().get("PCIDEVICE_VFIO_BROKER_IO_X710_VF_INFO"));
        assertThat(info.get(vf.toString()).get("vfio").get("dev-mount").asString()).isEqualTo("/dev/vfio/" + group);
        assertThat(r.getCdiDevicesList()).extracting(CDIDevice::getName).containsExactly(RESOURCE + "=" + vf);
        assertThat(r.getMountsList()).isEmpty();

        // Really bound, every sibling of the shared group with it, and the group node exists.
        for (PciAddress a : scanner.scan().group(group).orElseThrow().devices()) {
            assertThat(scanner.device(a).orElseThrow().driver()).as(a.toString()).isEqualTo("vfio-pci");
        }
        assertThat(root.resolve("dev/vfio/" + group)).exists();
        // Still in the pool (selected by its original driver) and healthy: the group is viable now.
        assertThat(plugins.devices().get(RESOURCE).get(vf.toString()).healthy()).isTrue();
        assertThat(plugins.devices().get(RESOURCE)).hasSize(3);
    }

    @Test
    void allocateRefusesUnknownUnhealthyAndWithdrawnDevicesWithoutBinding() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start(x710(null, null));
        kubelet.nextRegistration();
        PciAddress vf = vfs().get(0);
        assertThatThrownBy(() -> allocate("0000:99:00.0")).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND));
        withdrawn.add(vf);
        // Not refreshed yet: health still says healthy, Allocate asks policy again.
        assertThatThrownBy(() -> allocate(vf.toString())).isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.PERMISSION_DENIED);
            assertThat(e.getStatus().getDescription()).contains("policy withdrew " + vf);
        });
        plugins.refresh();
        assertThatThrownBy(() -> allocate(vf.toString())).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION));
        assertThat(scanner.device(vf).orElseThrow().driver()).isEqualTo("iavf");
    }

    @Test
    void anIommufdPoolAnswersDevIommuAndTheDeviceCdev() throws Exception {
        host(HostSpec.sriovScale(1, 2).withIommufd(true));
        start(x710(PoolConfig.Mode.DEVICE_NODES, Backend.IOMMUFD));
        kubelet.nextRegistration();
        PciAddress vf = vfs().get(1);
        // The simulated kernel makes no vfio cdevs; the real one names it under vfio-dev/ once vfio-pci has the device.
        Files.createDirectories(root.resolve("sys/bus/pci/devices/" + vf + "/vfio-dev/vfio3"));
        ContainerAllocateResponse r = allocate(vf.toString());
        assertThat(r.getDevicesList()).extracting(DeviceSpec::getHostPath).containsExactly("/dev/iommu", "/dev/vfio/devices/vfio3");
        assertThat(scanner.device(vf).orElseThrow().driver()).isEqualTo("vfio-pci");

        // Without a cdev the answer is a refusal that says why, not a container without its device.
        PciAddress other = vfs().get(0);
        assertThatThrownBy(() -> allocate(other.toString())).isInstanceOfSatisfying(StatusRuntimeException.class,
                e -> assertThat(e.getStatus().getDescription()).contains("VFIO_DEVICE_CDEV"));
    }

    @Test
    void aBrokerPoolMountsTheDaemonSocketDirectoryReadOnlyAndLeavesBindingToTheLease() throws Exception {
        host(HostSpec.sriovScale(1, 2));
        start(x710(PoolConfig.Mode.BROKER, null));
        kubelet.nextRegistration();
        PciAddress vf = vfs().get(0);
        ContainerAllocateResponse r = allocate(vf.toString());
        assertThat(r.getDevicesList()).isEmpty();
        assertThat(r.getMountsList()).singleElement().satisfies(m -> {
            assertThat(m.getHostPath()).isEqualTo("/run/vfio-broker");
            assertThat(m.getContainerPath()).isEqualTo("/run/vfio-broker");
            assertThat(m.getReadOnly()).isTrue();
        });
        assertThat(r.getEnvsMap()).containsEntry("VFIO_BROKER_SOCKET", "/run/vfio-broker/api.sock")
                .containsEntry("PCIDEVICE_VFIO_BROKER_IO_X710_VF", vf.toString());
        assertThat(hookCalls).containsExactly(List.of(vf));
        assertThat(scanner.device(vf).orElseThrow().driver()).isEqualTo("iavf");
    }

    @Test
    void preferredAllocationOverTheWireStaysOnOneNumaNode() throws Exception {
        host(HostSpec.sriovScale(2, 2));
        start(x710(null, null));
        kubelet.nextRegistration();
        List<String> ids = vfs().stream().map(PciAddress::toString).toList(); // node 0: 0,1; node 1: 2,3
        var resp = kubelet.blocking(channel()).getPreferredAllocation(PreferredAllocationRequest.newBuilder()
                .addContainerRequests(ContainerPreferredAllocationRequest.newBuilder()
                        .addAllAvailableDeviceIDs(List.of(ids.get(0), ids.get(2), ids.get(3), ids.get(1)))
                        .addMustIncludeDeviceIDs(ids.get(3)).setAllocationSize(2)).build());
        assertThat(resp.getContainerResponses(0).getDeviceIDsList()).containsExactly(ids.get(3), ids.get(2));
    }
}
