package io.vfiobroker.iommu;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;

import java.util.List;

/** Opens an IOMMU domain for devices already bound to vfio-pci. */
public interface DomainOpener {

    /** Which backends this host offers: LEGACY (type1 container) and/or IOMMUFD, in that order. */
    List<Backend> availableBackends();

    /**
     * Opens the domain. Kernel refusals come back as {@link DomainException} whose message names the ioctl, the
     * errno and, where it helps, the switch that would change the answer.
     */
    DeviceDomain open(List<Member> devices, Backend backend);

    record Member(PciAddress address, int group) {
    }
}
