package io.vfiobroker.nodeplugin;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SysfsHost;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How a pool's devices reach a container — one strategy per way, shared by Allocate and the CDI spec so both
 * always say the same thing. Paths are the node's own (/dev/...), not the host-root-relative ones we read.
 */
public sealed interface Exposure permits Exposure.LegacyVfio, Exposure.Iommufd, Exposure.Broker {

    /** Container path of the daemon's client socket directory in broker mode. */
    String BROKER_DIR_IN_CONTAINER = "/run/vfio-broker";

    record MountSpec(String hostPath, String containerPath, boolean readOnly) {
    }

    /** Nodes every container of the pool needs once, whatever devices it got. */
    List<String> sharedNodes();

    /** Nodes for one device; empty when the device has none (yet), which Allocate treats as an error. */
    List<String> deviceNodes(PoolDevice d);

    default List<MountSpec> mounts() {
        return List.of();
    }

    /** Extra env for the container, beyond the PCIDEVICE_ variables. */
    default Map<String, String> env() {
        return Map.of();
    }

    /** What the _INFO variable says about one device (sriov-dp's shape: kind → {mount, dev-mount}). */
    Map<String, Object> info(PoolDevice d);

    static Exposure of(PoolConfig pool, SysfsHost host, String brokerSocketDir) {
        if (pool.mode() == PoolConfig.Mode.BROKER) return new Broker(brokerSocketDir);
        return pool.backend() == Backend.IOMMUFD ? new Iommufd(host) : new LegacyVfio();
    }

    /** The type1 container: /dev/vfio/vfio plus each group's node. */
    record LegacyVfio() implements Exposure {
        public List<String> sharedNodes() {
            return List.of("/dev/vfio/vfio");
        }

        public List<String> deviceNodes(PoolDevice d) {
            return d.group() == null ? List.of() : List.of("/dev/vfio/" + d.group());
        }

        public Map<String, Object> info(PoolDevice d) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mount", "/dev/vfio/vfio");
            if (d.group() != null) m.put("dev-mount", "/dev/vfio/" + d.group());
            return Map.of("vfio", m);
        }
    }

    /** iommufd: /dev/iommu plus each device's cdev, which the kernel names only once vfio-pci has the device. */
    record Iommufd(SysfsHost host) implements Exposure {
        public List<String> sharedNodes() {
            return List.of("/dev/iommu");
        }

        public List<String> deviceNodes(PoolDevice d) {
            return cdev(d.address()).map(c -> List.of("/dev/vfio/devices/" + c)).orElse(List.of());
        }

        Optional<String> cdev(PciAddress a) {
            return host.list("sys/bus/pci/devices/" + a + "/vfio-dev").stream().filter(n -> n.matches("vfio\\d+")).sorted().findFirst();
        }

        public Map<String, Object> info(PoolDevice d) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mount", "/dev/iommu");
            cdev(d.address()).ifPresent(c -> m.put("dev-mount", "/dev/vfio/devices/" + c));
            return Map.of("iommufd", m);
        }
    }

    /**
     * Broker mode: no device nodes at all; the daemon's socket directory, read-only (connect(2) on a socket in a
     * read-only mount works: the kernel's read-only check covers files, directories and links, not sockets).
     */
    record Broker(String hostDir) implements Exposure {
        public List<String> sharedNodes() {
            return List.of();
        }

        public List<String> deviceNodes(PoolDevice d) {
            return List.of();
        }

        @Override
        public List<MountSpec> mounts() {
            return List.of(new MountSpec(hostDir, BROKER_DIR_IN_CONTAINER, true));
        }

        @Override
        public Map<String, String> env() {
            return Map.of("VFIO_BROKER_SOCKET", BROKER_DIR_IN_CONTAINER + "/api.sock");
        }

        public Map<String, Object> info(PoolDevice d) {
            return Map.of("broker", Map.of("socket", BROKER_DIR_IN_CONTAINER + "/api.sock"));
        }
    }
}
