package io.vfiobroker.nativeshim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * No VFIO hardware here: the real ioctl path is still exercised by aiming it at /dev/null, which
 * answers ENOTTY, so each error names the ioctl, the errno and the object.
 */
class VfioErrorsTest {
    private static final Path DEV_NULL = Path.of("/dev/null");

    @Test
    void openingTheContainerWithoutVfioNamesThePathAndEnoent() {
        assertThat(Files.exists(VfioContainer.DEFAULT_PATH)).as("this machine has no VFIO").isFalse();
        assertThatThrownBy(VfioContainer::open)
                .isInstanceOfSatisfying(NativeException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("open /dev/vfio/vfio: ENOENT");
                    assertThat(e.errno()).isEqualTo(Errno.ENOENT);
                    assertThat(e.errnoName()).isEqualTo("ENOENT");
                });
    }

    @Test
    void openingAGroupWithoutVfioNamesItsNode() {
        assertThatThrownBy(() -> VfioGroup.open(7)).hasMessage("open /dev/vfio/7: ENOENT");
    }

    @Test
    void messagesReadCallErrnoContext() {
        assertThat(new NativeException("VFIO_GROUP_SET_CONTAINER", Errno.EBUSY, "group 7"))
                .hasMessage("VFIO_GROUP_SET_CONTAINER: EBUSY (group 7)");
        assertThat(new NativeException("VFIO_SET_IOMMU", Errno.EPERM, "")).hasMessage("VFIO_SET_IOMMU: EPERM");
    }

    @Test
    void aContainerIoctlOnTheWrongFileIsEnotty() {
        assertThatThrownBy(() -> VfioContainer.open(DEV_NULL))
                .hasMessage("VFIO_GET_API_VERSION: ENOTTY (container /dev/null)");
    }

    @Test
    void groupStructIoctlsPassThroughTheKernel() {
        try (VfioGroup g = VfioGroup.open(DEV_NULL, 7)) {
            assertThatThrownBy(g::isViable).hasMessage("VFIO_GROUP_GET_STATUS: ENOTTY (group 7)");
            assertThatThrownBy(() -> g.openDevice("0000:00:03.0"))
                    .hasMessage("VFIO_GROUP_GET_DEVICE_FD: ENOTTY (group 7, device 0000:00:03.0)");
        }
    }

    @Test
    void deviceIoctlsNameTheDevice() {
        try (VfioDevice d = new VfioDevice(Posix.open(DEV_NULL, LibcAbi.O_RDWR), "0000:00:03.0")) {
            assertThatThrownBy(d::info).hasMessage("VFIO_DEVICE_GET_INFO: ENOTTY (device 0000:00:03.0)");
            assertThatThrownBy(() -> d.read32(VfioAbi.VFIO_PCI_BAR0_REGION_INDEX, 0))
                    .hasMessage("VFIO_DEVICE_GET_REGION_INFO: ENOTTY (device 0000:00:03.0)");
            assertThatThrownBy(() -> d.setIrqEventFds(VfioAbi.VFIO_PCI_MSI_IRQ_INDEX, 3))
                    .hasMessage("VFIO_DEVICE_SET_IRQS: ENOTTY (device 0000:00:03.0, irq index 1)");
            assertThatThrownBy(d::reset).hasMessage("VFIO_DEVICE_RESET: ENOTTY (device 0000:00:03.0)");
        }
    }

    @Test
    void iommufdIoctlsNameTheIoas() {
        try (IommuFd fd = IommuFd.open(DEV_NULL)) {
            assertThatThrownBy(() -> fd.setRlimitMode(true)).hasMessage("IOMMU_OPTION: ENOTTY (iommufd /dev/null)");
            assertThatThrownBy(fd::allocIoas).hasMessage("IOMMU_IOAS_ALLOC: ENOTTY (iommufd /dev/null)");
        }
        assertThatThrownBy(IommuFd::open).hasMessage("open /dev/iommu: ENOENT");
    }
}
