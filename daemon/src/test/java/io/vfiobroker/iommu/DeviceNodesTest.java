package io.vfiobroker.iommu;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.host.LinuxSysfsHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link DeviceNodes} over generated host trees: the one lookup behind the domain opener, Allocate, CDI specs and DRA. */
class DeviceNodesTest {

    @TempDir
    Path dir;

    Path root;

    DeviceNodes nodes(HostSpec spec) throws IOException {
        root = HostTreeGenerator.generate(spec, dir.resolve("host"));
        return new DeviceNodes(new LinuxSysfsHost(root));
    }

    HostInventory inventory() {
        return new InventoryScanner(new LinuxSysfsHost(root), PciIds.empty()).scan();
    }

    Device grouped() {
        return inventory().devices().stream().filter(d -> d.iommuGroup() != null).findFirst().orElseThrow();
    }

    @Test
    void legacyIsTheContainerAndTheGroupNode() throws IOException {
        DeviceNodes nodes = nodes(HostSpec.sriovScale(1, 2).withIommufd(false));
        Device d = grouped();

        assertThat(nodes.shared(Backend.LEGACY)).isEqualTo("/dev/vfio/vfio");
        assertThat(nodes.device(Backend.LEGACY, d.address(), d.iommuGroup())).contains("/dev/vfio/" + d.iommuGroup());
        assertThat(nodes.hasShared(Backend.LEGACY)).isTrue();
        assertThat(nodes.hasShared(Backend.IOMMUFD)).isFalse();
        assertThat(nodes.available()).containsExactly(Backend.LEGACY);
        assertThat(nodes.open("/dev/vfio/" + d.iommuGroup())).isEqualTo(root.resolve("dev/vfio/" + d.iommuGroup()));
    }

    @Test
    void iommufdIsDevIommuAndTheCdevOnceTheKernelNamedOne() throws IOException {
        DeviceNodes nodes = nodes(HostSpec.sriovScale(1, 2).withIommufd(true));
        Device d = grouped();

        assertThat(nodes.shared(Backend.IOMMUFD)).isEqualTo("/dev/iommu");
        assertThat(nodes.hasShared(Backend.IOMMUFD)).isTrue();
        // Not on vfio-pci (or no VFIO_DEVICE_CDEV): no cdev, so no node, and no vfio-dev class either.
        assertThat(nodes.device(Backend.IOMMUFD, d.address(), d.iommuGroup())).isEmpty();
        assertThat(nodes.available()).containsExactly(Backend.LEGACY);

        Files.createDirectories(root.resolve("sys/class/vfio-dev"));
        Files.createDirectories(root.resolve("sys/bus/pci/devices/" + d.address() + "/vfio-dev/vfio7"));
        assertThat(nodes.device(Backend.IOMMUFD, d.address(), d.iommuGroup())).contains("/dev/vfio/devices/vfio7");
        assertThat(nodes.cdev(d.address())).contains("vfio7");
        assertThat(nodes.available()).containsExactly(Backend.LEGACY, Backend.IOMMUFD);
        assertThat(nodes.open("/dev/vfio/devices/vfio7")).isEqualTo(root.resolve("dev/vfio/devices/vfio7"));
    }

    @Test
    void aDeviceWithoutAGroupHasNoNodeOfItsOwn() throws IOException {
        DeviceNodes nodes = nodes(HostSpec.sriovScale(1, 1).withIommu(HostSpec.Iommu.NONE).withIommufd(true));
        Device d = inventory().devices().get(0);
        assertThat(d.iommuGroup()).isNull();

        assertThat(nodes.device(Backend.LEGACY, d.address(), null)).isEqualTo(Optional.empty());
        assertThat(nodes.device(Backend.IOMMUFD, d.address(), null)).isEmpty();
        // What every consumer of the backend gets does not depend on the device.
        assertThat(nodes.shared(Backend.LEGACY)).isEqualTo("/dev/vfio/vfio");
    }
}
