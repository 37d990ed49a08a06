package io.vfiobroker.nodeplugin;

import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.iommu.DeviceNodes;

/**
 * Why the kernel side keeps a pool's device from being handed over, whoever asks: the device plugin reports it
 * Unhealthy, the DRA driver withdraws it from its ResourceSlice. Policy is not asked here: the DRA principal is
 * per claim, unknown until Prepare.
 */
public final class DeviceHealth {

    private DeviceHealth() {
    }

    /** The reason, or null when the device can be handed over. */
    public static String problem(PoolConfig pool, Device d, HostInventory inv, DeviceNodes nodes) {
        if (d.iommuGroup() == null) {
            return d.address() + " is in no IOMMU group: the kernel has no IOMMU enabled for it";
        }
        if (d.boundTo(DeviceProvisioning.VFIO_PCI)) {
            IommuGroup g = inv.group(d.iommuGroup()).orElse(null);
            if (g != null && !g.viable()) {
                return "IOMMU group " + g.id() + " of " + d.address() + " is not viable: " + String.join("; ", g.blockers());
            }
        }
        if (pool.mode() == PoolConfig.Mode.DEVICE_NODES && pool.backend() == Backend.IOMMUFD && !nodes.hasShared(Backend.IOMMUFD)) {
            return "pool " + pool.name() + " uses iommufd but the host has no /dev/iommu (kernel without CONFIG_IOMMUFD)";
        }
        return null;
    }
}
