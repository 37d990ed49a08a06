package io.vfiobroker.iommu;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The /dev nodes a device is reached through, looked up once: the domain opener opens them, and the device plugin and
 * the DRA driver (through core/DeviceProvisioning) hand the same ones to containers. Names are the node's own
 * ("/dev/vfio/3"); the files behind them are found below the host root. IOMMUFD means iommufd plus vfio cdevs; any
 * other backend the type1 container plus group nodes.
 */
public final class DeviceNodes {

    private static final String DEV = "/dev/";
    private final SysfsHost host;

    public DeviceNodes(SysfsHost host) {
        this.host = host;
    }

    /** The node every user of the backend opens once, whatever devices it got. */
    public String shared(Backend backend) {
        return backend == Backend.IOMMUFD ? DEV + "iommu" : DEV + "vfio/vfio";
    }

    /** One device's node, empty when it has none (yet): its group's, or its vfio cdev. */
    public Optional<String> device(Backend backend, PciAddress address, Integer group) {
        if (backend == Backend.IOMMUFD) return cdev(address).map(c -> DEV + "vfio/devices/" + c);
        return group == null ? Optional.empty() : Optional.of(group(group));
    }

    /** A group's node. */
    public String group(int group) {
        return DEV + "vfio/" + group;
    }

    /** The device's vfio cdev ("vfio0"): the kernel names it only once vfio-pci has the device, and only with VFIO_DEVICE_CDEV. */
    public Optional<String> cdev(PciAddress address) {
        return host.list("sys/bus/pci/devices/" + address + "/vfio-dev").stream().filter(n -> n.matches("vfio[0-9]+")).sorted().findFirst();
    }

    /** Whether the host has the backend's shared node (no /dev/iommu: a kernel without CONFIG_IOMMUFD). */
    public boolean hasShared(Backend backend) {
        return host.exists(relative(shared(backend)));
    }

    /** The backends this host can open: iommufd needs the vfio-dev class too, since /dev/vfio/devices/ appears only with a bound device. */
    public List<Backend> available() {
        List<Backend> out = new ArrayList<>();
        if (hasShared(Backend.LEGACY)) out.add(Backend.LEGACY);
        if (hasShared(Backend.IOMMUFD) && host.exists("sys/class/vfio-dev")) out.add(Backend.IOMMUFD);
        return out;
    }

    /** Where the daemon opens {@code node} on this host. */
    public Path open(String node) {
        return host.deviceNode(node.substring(DEV.length()));
    }

    private static String relative(String node) {
        return node.substring(1);
    }
}
