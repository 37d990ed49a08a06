package io.vfiobroker.nodeplugin;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.iommu.DeviceNodes;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a pool's devices reach a container — one strategy per way, shared by Allocate and the CDI spec so both
 * always say the same thing. The nodes are the core's ({@link DeviceNodes}), the ones the domain opener opens.
 */
public sealed interface Exposure permits Exposure.Nodes, Exposure.Broker {

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

    static Exposure of(PoolConfig pool, DeviceNodes nodes, String brokerSocketDir) {
        if (pool.mode() == PoolConfig.Mode.BROKER) return new Broker(brokerSocketDir);
        return new Nodes(pool.backend(), nodes);
    }

    /**
     * The device nodes themselves, as the core names them: the type1 container plus each group's node, or /dev/iommu
     * plus each device's cdev, which the kernel names only once vfio-pci has the device.
     */
    record Nodes(Backend backend, DeviceNodes nodes) implements Exposure {
        public List<String> sharedNodes() {
            return List.of(nodes.shared(backend));
        }

        public List<String> deviceNodes(PoolDevice d) {
            return nodes.device(backend, d.address(), d.group()).map(List::of).orElse(List.of());
        }

        public Map<String, Object> info(PoolDevice d) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mount", nodes.shared(backend));
            nodes.device(backend, d.address(), d.group()).ifPresent(n -> m.put("dev-mount", n));
            return Map.of(backend == Backend.IOMMUFD ? "iommufd" : "vfio", m);
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
