package io.vfiobroker.nativeshim;

/** One interrupt index of a device (INTx, MSI, MSI-X, ...) and how many vectors it has. */
public record IrqInfo(int index, int flags, int count) {
    /** Whether vectors can be signalled through eventfds. */
    public boolean eventfd() {
        return (flags & VfioAbi.VFIO_IRQ_INFO_EVENTFD) != 0;
    }
}
