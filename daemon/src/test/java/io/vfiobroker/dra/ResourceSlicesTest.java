package io.vfiobroker.dra;

import io.fabric8.kubernetes.api.model.resource.v1.DeviceAttribute;
import io.fabric8.kubernetes.api.model.resource.v1.ResourceSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.nodeplugin.PoolConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** ResourceSlices against fabric8's mock API server in CRUD mode: the exact objects, generations, withdrawal, restart. */
@EnableKubernetesMockClient(crud = true)
class ResourceSlicesTest {

    static KubernetesClient client;

    @TempDir
    Path dir;

    static final String NODE = "node-a";

    DraSlices slices(Path root, List<PoolConfig> pools) {
        SimulatedKernelHost host = new SimulatedKernelHost(root);
        InventoryScanner scanner = new InventoryScanner(host, PciIds.empty());
        BindingService binding = new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.DEFAULT);
        DraProperties props = DraProperties.of(NODE, pools);
        DeviceProvisioning core = new DeviceProvisioning(scanner, binding, (w, d, i) -> java.util.Optional.empty());
        return new DraSlices(new SliceDevices(props, core), new ResourceSlicePublisher(client, props), core);
    }

    DeviceProvisioning core(SimulatedKernelHost host) {
        InventoryScanner scanner = new InventoryScanner(host, PciIds.empty());
        return new DeviceProvisioning(scanner, new BindingService(host, scanner, new Journal(dir.resolve("state")), () -> BindingRules.DEFAULT),
                (w, d, i) -> java.util.Optional.empty());
    }

    List<ResourceSlice> published() {
        return client.resources(ResourceSlice.class).list().getItems().stream()
                .sorted(Comparator.comparing(s -> s.getMetadata().getName())).toList();
    }

    static Map<String, DeviceAttribute> attrs(ResourceSlice s, String device) {
        return s.getSpec().getDevices().stream().filter(d -> d.getName().equals(device)).findFirst().orElseThrow().getAttributes();
    }

    @Test
    void theSlicesCarryEveryAttributeThenFollowAHotRemoveAndARestartWithoutDuplicates() throws Exception {
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2), dir.resolve("h"));
        PoolConfig vfs = DraPluginTest.x710();
        DraSlices daemon = slices(root, List.of(vfs));
        assertThat(daemon.refresh()).isTrue();

        List<ResourceSlice> all = published();
        assertThat(all).hasSize(1);
        ResourceSlice s = all.get(0);
        assertThat(s.getMetadata().getName()).isEqualTo("node-a-x710-vf.vfio.vfio-broker.io");
        assertThat(s.getMetadata().getLabels()).containsEntry("app.kubernetes.io/managed-by", "vfio-broker").containsEntry("vfio-broker.io/node", NODE);
        assertThat(s.getSpec().getDriver()).isEqualTo("vfio.vfio-broker.io");
        assertThat(s.getSpec().getNodeName()).isEqualTo(NODE);
        assertThat(s.getSpec().getPool().getName()).isEqualTo("node-a-x710-vf");
        assertThat(s.getSpec().getPool().getGeneration()).isEqualTo(1L);
        assertThat(s.getSpec().getPool().getResourceSliceCount()).isEqualTo(1L);
        List<String> names = s.getSpec().getDevices().stream().map(d -> d.getName()).toList();
        assertThat(names).hasSize(2);

        // Every attribute of the first VF, against the inventory it came from.
        InventoryScanner scanner = new InventoryScanner(new SimulatedKernelHost(root), PciIds.empty());
        var inv = scanner.scan();
        var vf = inv.devices().stream().filter(d -> d.isVirtualFunction()).min(Comparator.comparing(d -> d.address().toString())).orElseThrow();
        Map<String, DeviceAttribute> a = attrs(s, DraDriver.deviceName(vf.address()));
        assertThat(a.keySet()).containsExactly("pciAddress", "vendorId", "deviceId", "class", "numaNode", "iommuGroup", "pfAddress", "vfIndex",
                "interruptRemapping", "driver");
        assertThat(a.get("pciAddress").getString()).isEqualTo(vf.address().toString());
        assertThat(a.get("vendorId").getString()).isEqualTo("8086");
        assertThat(a.get("deviceId").getString()).isEqualTo("154c");
        assertThat(a.get("class").getString()).isEqualTo(String.format("0x%06x", vf.pciClass().code()));
        assertThat(a.get("numaNode").getInt()).isEqualTo((long) vf.numaNode());
        assertThat(a.get("iommuGroup").getInt()).isEqualTo((long) vf.iommuGroup());
        assertThat(a.get("pfAddress").getString()).isEqualTo(vf.physicalFunction().toString());
        assertThat(a.get("vfIndex").getInt()).isEqualTo(0L);
        assertThat(a.get("interruptRemapping").getBool()).isTrue();
        assertThat(a.get("driver").getString()).isEqualTo("iavf");

        // Nothing changed: nothing written, generation stays.
        assertThat(daemon.refresh()).isFalse();

        // Hot-remove of one VF (what the kernel does to sysfs; the scan sees it after its cache period).
        PciAddress gone = vf.address();
        removeDevice(root, gone);
        DraSlices afterRemove = slices(root, List.of(vfs));
        assertThat(afterRemove.refresh()).isTrue();
        ResourceSlice next = published().get(0);
        assertThat(next.getSpec().getPool().getGeneration()).isEqualTo(2L);
        assertThat(next.getSpec().getDevices()).extracting(d -> d.getName()).doesNotContain(DraDriver.deviceName(gone)).hasSize(1);

        // A restarted daemon adopts its slice: no duplicate, no new generation.
        DraSlices restarted = slices(root, List.of(vfs));
        assertThat(restarted.refresh()).isFalse();
        assertThat(published()).hasSize(1);
        assertThat(published().get(0).getSpec().getPool().getGeneration()).isEqualTo(2L);

        // A pool no longer configured is withdrawn.
        DraSlices none = slices(root, List.of());
        assertThat(none.refresh()).isTrue();
        assertThat(published()).isEmpty();
    }

    @Test
    void aHotRemoveEventReachesTheSlicesWithoutWaitingForTheResync() throws Exception {
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2), dir.resolve("h"));
        try (DraSlices daemon = slices(root, List.of(DraPluginTest.x710()))) {
            io.vfiobroker.events.EventBus bus = new io.vfiobroker.events.EventBus();
            daemon.follow(bus);
            daemon.start(java.time.Duration.ofHours(1)); // the first pass now, the next resync long after this test
            awaitSlice(s -> s.getSpec().getDevices().size() == 2);
            PciAddress gone = new InventoryScanner(new SimulatedKernelHost(root), PciIds.empty()).scan().devices().stream()
                    .filter(d -> d.isVirtualFunction()).map(d -> d.address()).sorted().findFirst().orElseThrow();
            removeDevice(root, gone);
            // What the uevent handler publishes for the kernel's remove.
            bus.publish(new io.vfiobroker.events.BrokerEvent.DeviceChanged("device-removed", gone.toString(), null, -1, "8086:154c", "uevent",
                    "remove", "/devices/pci0000:00/" + gone, 0, List.of()));
            ResourceSlice s = awaitSlice(x -> x.getSpec().getDevices().size() == 1);
            assertThat(s.getSpec().getDevices()).extracting(d -> d.getName()).doesNotContain(DraDriver.deviceName(gone));
            assertThat(s.getSpec().getPool().getGeneration()).isEqualTo(2L);
        } finally {
            client.resources(ResourceSlice.class).delete(); // the mock API server is the class's: leave it empty
        }
    }

    private ResourceSlice awaitSlice(java.util.function.Predicate<ResourceSlice> done) throws InterruptedException {
        long deadline = System.nanoTime() + java.time.Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            List<ResourceSlice> now = published();
            if (now.size() == 1 && done.test(now.get(0))) return now.get(0);
            Thread.sleep(50);
        }
        throw new AssertionError("the published slices never reached the expected state: " + published());
    }

    @Test
    void aDeviceWhoseGroupStopsBeingViableIsWithdrawnAndOfferedAgainWhenItIsViableAgain() throws Exception {
        // One PF and its two VFs share a group (no ACS); the pool is the VFs, whatever their driver.
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(1, 2).withLayout(HostSpec.GroupLayout.SHARED), dir.resolve("h"));
        PoolConfig vfs = new PoolConfig("vf", null, null, java.util.Map.of("vendorDevice", List.of("8086:154c")));
        assertThat(slices(root, List.of(vfs)).refresh()).isTrue();
        assertThat(published().get(0).getSpec().getDevices()).hasSize(2);

        // Someone hands one VF to vfio-pci by hand while the PF keeps i40e: the group is not viable, the VF can't be used.
        SimulatedKernelHost kernel = new SimulatedKernelHost(root);
        var inv = new InventoryScanner(kernel, PciIds.empty()).scan();
        PciAddress vf = inv.devices().stream().filter(d -> d.isVirtualFunction()).map(d -> d.address()).sorted().findFirst().orElseThrow();
        kernel.write("sys/bus/pci/devices/" + vf + "/driver/unbind", vf.toString());
        kernel.write("sys/bus/pci/devices/" + vf + "/driver_override", "vfio-pci");
        kernel.write("sys/bus/pci/drivers_probe", vf.toString());

        DraSlices after = slices(root, List.of(vfs));
        assertThat(after.refresh()).isTrue();
        ResourceSlice s = published().get(0);
        assertThat(s.getSpec().getPool().getGeneration()).isEqualTo(2L);
        assertThat(s.getSpec().getDevices()).extracting(d -> d.getName()).doesNotContain(DraDriver.deviceName(vf)).hasSize(1);
        var offer = new SliceDevices(DraProperties.of(NODE, List.of(vfs)), core(kernel)).offer(new InventoryScanner(kernel, PciIds.empty()).scan(), Map.of());
        assertThat(offer.withdrawn()).containsOnlyKeys(NODE + "-vf/" + DraDriver.deviceName(vf));
        assertThat(offer.withdrawn().values().iterator().next()).contains("is not viable");

        // Back on its own driver: offered again, one generation on.
        kernel.write("sys/bus/pci/devices/" + vf + "/driver_override", "\n");
        kernel.write("sys/bus/pci/devices/" + vf + "/driver/unbind", vf.toString());
        kernel.write("sys/bus/pci/drivers_probe", vf.toString());
        assertThat(slices(root, List.of(vfs)).refresh()).isTrue();
        assertThat(published().get(0).getSpec().getPool().getGeneration()).isEqualTo(3L);
        assertThat(published().get(0).getSpec().getDevices()).extracting(d -> d.getName()).contains(DraDriver.deviceName(vf)).hasSize(2);
    }

    static void removeDevice(Path root, PciAddress a) throws java.io.IOException {
        Path dev = root.resolve("sys/bus/pci/devices/" + a);
        Path real = dev.toRealPath();
        java.nio.file.Files.delete(dev);
        try (var w = java.nio.file.Files.walk(real)) {
            for (Path p : w.sorted(Comparator.reverseOrder()).toList()) java.nio.file.Files.deleteIfExists(p);
        }
    }
}
