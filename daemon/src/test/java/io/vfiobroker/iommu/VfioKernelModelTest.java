package io.vfiobroker.iommu;

import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.nativeshim.IommufdAbi;
import io.vfiobroker.nativeshim.NativeException;
import io.vfiobroker.nativeshim.VfioAbi;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The kernel model's own answers: the errno each refusal carries, and what a close gives back. */
class VfioKernelModelTest {

    @TempDir
    Path dir;

    SimulatedKernelHost host;
    VfioKernelModel kernel;
    int group;
    String address;

    @BeforeEach
    void vfOnVfioPci() throws IOException {
        Path root = dir.resolve("host");
        HostTreeGenerator.generate(HostSpec.sriovScale(1, 1).withIommufd(true), root);
        host = new SimulatedKernelHost(root);
        address = host.list("sys/bus/pci/devices").stream()
                .filter(a -> host.read("sys/bus/pci/devices/" + a + "/device").orElse("").strip().equals("0x154c")).findFirst().orElseThrow();
        group = Integer.parseInt(host.linkName("sys/bus/pci/devices/" + address + "/iommu_group").orElseThrow());
        host.write("sys/bus/pci/devices/" + address + "/driver_override", "vfio-pci");
        if (host.linkName("sys/bus/pci/devices/" + address + "/driver").isPresent()) {
            host.write("sys/bus/pci/devices/" + address + "/driver/unbind", address);
        }
        host.write("sys/bus/pci/drivers_probe", address);
        kernel = new VfioKernelModel(host, true);
    }

    private static String errno(Executable call) {
        return assertThrows(NativeException.class, call).errnoName();
    }

    private VfioKernel.Container containerWithGroup() {
        VfioKernel.Container c = kernel.openContainer(host.root().resolve("dev/vfio/vfio"));
        VfioKernel.Group g = kernel.openGroup(host.root().resolve("dev/vfio/" + group), group);
        kernel.groupSetContainer(g, c);
        return c;
    }

    @Test
    void theIommuIsSetOnlyOnceAndOnlyWithAGroupIn() {
        VfioKernel.Container empty = kernel.openContainer(host.root().resolve("dev/vfio/vfio"));
        assertThat(errno(() -> kernel.setIommu(empty, VfioAbi.VFIO_TYPE1v2_IOMMU))).isEqualTo("EINVAL");
        VfioKernel.Container c = containerWithGroup();
        assertThat(errno(() -> kernel.setIommu(c, 42))).isEqualTo("ENODEV");
        kernel.setIommu(c, VfioAbi.VFIO_TYPE1v2_IOMMU);
        assertThat(errno(() -> kernel.setIommu(c, VfioAbi.VFIO_TYPE1v2_IOMMU))).isEqualTo("EINVAL");
    }

    @Test
    void aGroupJoinsOneContainerAndOpensOnce() {
        VfioKernel.Container c = kernel.openContainer(host.root().resolve("dev/vfio/vfio"));
        VfioKernel.Group g = kernel.openGroup(host.root().resolve("dev/vfio/" + group), group);
        assertThat(errno(() -> kernel.openGroup(host.root().resolve("dev/vfio/" + group), group))).isEqualTo("EBUSY");
        assertThat(errno(() -> kernel.groupUnsetContainer(g))).isEqualTo("EINVAL");
        kernel.groupSetContainer(g, c);
        assertThat(kernel.groupGetStatus(g)).isEqualTo(VfioAbi.VFIO_GROUP_FLAGS_VIABLE | VfioAbi.VFIO_GROUP_FLAGS_CONTAINER_SET);
        assertThat(errno(() -> kernel.groupSetContainer(g, c))).isEqualTo("EINVAL");
        g.fd().close();
        assertThat(kernel.state()).isEqualTo("container groups=[] iommu=false maps=0");
    }

    @Test
    void aDeviceFdNeedsTheIommuSetAndAMemberOnVfioPci() {
        VfioKernel.Container c = kernel.openContainer(host.root().resolve("dev/vfio/vfio"));
        VfioKernel.Group g = kernel.openGroup(host.root().resolve("dev/vfio/" + group), group);
        kernel.groupSetContainer(g, c);
        assertThat(errno(() -> kernel.groupGetDeviceFd(g, address))).isEqualTo("EINVAL");
        kernel.setIommu(c, VfioAbi.VFIO_TYPE1v2_IOMMU);
        assertThat(errno(() -> kernel.groupGetDeviceFd(g, "0000:ff:1f.7"))).isEqualTo("ENODEV");
        VfioKernel.Device d = kernel.groupGetDeviceFd(g, address);
        assertThat(errno(() -> kernel.groupUnsetContainer(g))).isEqualTo("EBUSY");
        assertThat(errno(() -> kernel.deviceGetRegionInfo(d, VfioAbi.VFIO_PCI_VGA_REGION_INDEX))).isEqualTo("EINVAL");
        d.fd().close();
        kernel.groupUnsetContainer(g);
    }

    @Test
    void dmaMapsPinAgainstTheMemlockLimitAndRefuseBadRanges() {
        VfioKernel.Container c = containerWithGroup();
        int rw = VfioAbi.VFIO_DMA_MAP_FLAG_READ | VfioAbi.VFIO_DMA_MAP_FLAG_WRITE;
        assertThat(errno(() -> kernel.iommuMapDma(c, 0x10000, 0, 0x1000, rw))).as("before VFIO_SET_IOMMU").isEqualTo("EINVAL");
        kernel.setIommu(c, VfioAbi.VFIO_TYPE1v2_IOMMU);
        kernel.setMemlockLimit(0x3000);
        assertThat(errno(() -> kernel.iommuMapDma(c, 0x10000, 0, 0, rw))).isEqualTo("EINVAL");
        assertThat(errno(() -> kernel.iommuMapDma(c, 0x10000, 0, 0x1800, rw))).isEqualTo("EINVAL");
        assertThat(errno(() -> kernel.iommuMapDma(c, 0x10000, 0, 0x1000, 0))).isEqualTo("EINVAL");
        kernel.iommuMapDma(c, 0x10000, 0, 0x2000, rw);
        assertThat(errno(() -> kernel.iommuMapDma(c, 0x20000, 0x1000, 0x1000, rw))).isEqualTo("EEXIST");
        assertThat(errno(() -> kernel.iommuMapDma(c, 0x20000, 0x2000, 0x2000, rw))).isEqualTo("ENOMEM");
        kernel.iommuMapDma(c, 0x20000, 0x2000, 0x1000, rw);
    }

    @Test
    void ioasMapsCountAgainstTheLimitTooAndTheRlimitModeIsSetOnlyWhileEmpty() {
        VfioKernel.IommuFd fd = kernel.openIommufd(host.root().resolve("dev/iommu"));
        kernel.iommuOptionRlimitMode(fd, true);
        int ioas = kernel.ioasAlloc(fd);
        assertThat(errno(() -> kernel.iommuOptionRlimitMode(fd, false))).isEqualTo("EBUSY");
        int flags = IommufdAbi.IOMMU_IOAS_MAP_FIXED_IOVA | IommufdAbi.IOMMU_IOAS_MAP_READABLE;
        kernel.setMemlockLimit(0x1000);
        assertThat(errno(() -> kernel.ioasMap(fd, ioas + 1, 0x10000, 0, 0x1000, flags))).isEqualTo("ENOENT");
        assertThat(errno(() -> kernel.ioasMap(fd, ioas, 0x10000, 0x800, 0x1000, flags))).isEqualTo("EINVAL");
        assertThat(errno(() -> kernel.ioasMap(fd, ioas, 0x10000, 0, 0x2000, flags))).isEqualTo("ENOMEM");
        kernel.ioasMap(fd, ioas, 0x10000, 0, 0x1000, flags);
        fd.fd().close();
        assertThat(kernel.state()).isEqualTo("idle");
    }

    @Test
    void aDupKeepsTheFileAndItsStateUntilTheLastClose() {
        VfioKernel.Container c = containerWithGroup();
        kernel.setIommu(c, VfioAbi.VFIO_TYPE1v2_IOMMU);
        var copy = kernel.dup(c.fd());
        c.fd().close();
        assertThat(kernel.state()).contains("iommu=true");
        copy.close();
        // The attached group still holds the container, as in the kernel; only the group's close lets it go.
        assertThat(kernel.state()).isEqualTo("group " + group + " in a container");
        assertThat(kernel.openFds()).isEqualTo(1);
    }
}
