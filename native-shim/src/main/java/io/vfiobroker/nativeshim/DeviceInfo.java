package io.vfiobroker.nativeshim;

/** VFIO_DEVICE_GET_INFO: device kind flags and how many region and irq indexes it has. */
public record DeviceInfo(int flags, int numRegions, int numIrqs) {
    /** Whether VFIO_DEVICE_RESET is supported. */
    public boolean resettable() {
        return (flags & VfioAbi.VFIO_DEVICE_FLAGS_RESET) != 0;
    }

    /** Whether this is a vfio-pci device. */
    public boolean pci() {
        return (flags & VfioAbi.VFIO_DEVICE_FLAGS_PCI) != 0;
    }
}
