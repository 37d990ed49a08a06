package io.vfiobroker.kubelet;

import io.vfiobroker.domain.Backend;

import java.util.List;
import java.util.regex.Pattern;

/**
 * One resource pool: which devices (selectors in the manner of sriov-network-device-plugin), how a pod gets
 * them, and through which VFIO interface.
 *
 * @param name      the resource name's second half: {@code vfio-broker.io/<name>}
 * @param mode      {@code device-nodes}: the container gets the VFIO device nodes; {@code broker}: it gets the
 *                  daemon's socket and asks for fds, with memlock set and accounted
 * @param backend   {@code legacy} (/dev/vfio/vfio + /dev/vfio/N) or {@code iommufd} (/dev/iommu + /dev/vfio/devices/vfioN)
 * @param selectors every given criterion must hold; within one, any entry
 */
public record PoolConfig(String name, Mode mode, Backend backend, Selectors selectors) {

    public enum Mode { DEVICE_NODES, BROKER }

    // The part after the slash of an extended resource: a DNS-1123 label-ish qualified name, at most 63.
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?");

    public PoolConfig {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("pool name '" + name + "' must be 1-63 characters of a-z, 0-9, '-', '_', '.',"
                    + " starting and ending with a letter or digit (it becomes vfio-broker.io/<name>)");
        }
        if (mode == null) mode = Mode.DEVICE_NODES;
        backend = backend == null ? Backend.LEGACY : backend.concrete("pool " + name);
        if (selectors == null) selectors = Selectors.NONE;
        if (selectors.isEmpty()) {
            throw new IllegalArgumentException("pool '" + name + "' has no selectors: give vendors, devices, drivers, pfNames,"
                    + " addresses or numaNodes (a pool of every PCI function is never what is meant)");
        }
    }

    /**
     * @param vendors   vendor ids, hex without 0x ("8086")
     * @param devices   device ids ("154c")
     * @param drivers   the driver the device had before vfio-broker bound it (its current one if it was never bound)
     * @param pfNames   parent PF by netdev name ("ens1f0") or PCI address; "ens1f0#0-3" limits to VF indices 0..3
     * @param addresses exact PCI addresses
     * @param numaNodes NUMA node of the device
     */
    public record Selectors(List<String> vendors, List<String> devices, List<String> drivers, List<String> pfNames,
                            List<String> addresses, List<Integer> numaNodes) {
        static final Selectors NONE = new Selectors(null, null, null, null, null, null);

        public Selectors {
            vendors = lower(vendors);
            devices = lower(devices);
            drivers = drivers == null ? List.of() : List.copyOf(drivers);
            pfNames = pfNames == null ? List.of() : List.copyOf(pfNames);
            addresses = lower(addresses);
            numaNodes = numaNodes == null ? List.of() : List.copyOf(numaNodes);
        }

        boolean isEmpty() {
            return vendors.isEmpty() && devices.isEmpty() && drivers.isEmpty() && pfNames.isEmpty() && addresses.isEmpty()
                    && numaNodes.isEmpty();
        }

        private static List<String> lower(List<String> in) {
            return in == null ? List.of() : in.stream().map(s -> s.strip().toLowerCase(java.util.Locale.ROOT).replaceFirst("^0x", "")).toList();
        }
    }
}
