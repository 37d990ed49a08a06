package io.vfiobroker.nodeplugin;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.policy.DeviceSelector;
import org.springframework.boot.context.properties.bind.ConstructorBinding;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * One resource pool: which devices, how a pod gets them, and through which VFIO interface.
 *
 * @param name      the resource name's second half: {@code vfio-broker.io/<name>}
 * @param mode      {@code device-nodes}: the container gets the VFIO device nodes; {@code broker}: it gets the
 *                  daemon's socket and asks for fds, with memlock set and accounted
 * @param backend   {@code legacy} (/dev/vfio/vfio + /dev/vfio/N) or {@code iommufd} (/dev/iommu + /dev/vfio/devices/vfioN)
 * @param selectors the policy's selector language (docs/selectors.md), with the pool-only driver and pfName
 */
public record PoolConfig(String name, Mode mode, Backend backend, DeviceSelector selectors) {

    public enum Mode { DEVICE_NODES, BROKER }

    // The part after the slash of an extended resource: a DNS-1123 label-ish qualified name, at most 63.
    private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9_.]{0,61}[a-z0-9])?");

    public PoolConfig {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("pool name '" + name + "' must be 1-63 characters of a-z, 0-9, '-', '_', '.',"
                    + " starting and ending with a letter or digit (it becomes vfio-broker.io/<name>)");
        }
        if (mode == null) mode = Mode.DEVICE_NODES;
        if (backend == null) backend = Backend.LEGACY;
        if (selectors == null) {
            throw new IllegalArgumentException("pool '" + name + "' has no selectors: give vendorDevice, driver, pfName, address,"
                    + " numaNode, ... (a pool of every PCI function is never what is meant; 'any: true' says so if it is)");
        }
    }

    /**
     * As configuration binds it: {@code mode} and {@code backend} as written (Spring's enum conversion would refuse a bad
     * one without naming the pool), {@code selectors} in the YAML shape of the policy's device selectors.
     */
    @ConstructorBinding
    public PoolConfig(String name, String mode, String backend, Map<String, List<String>> selectors) {
        this(name, mode(name, mode), backend(name, backend),
                selectors == null || selectors.isEmpty() ? null : DeviceSelector.pool(selectors, "pool '" + name + "' selectors"));
    }

    private static Mode mode(String pool, String written) {
        if (written == null || written.isBlank()) return null;
        // As leniently as Spring binds enums: case, '-' and '_' do not matter.
        String s = written.replaceAll("[^A-Za-z0-9]", "").toLowerCase(Locale.ROOT);
        if (s.equals("devicenodes")) return Mode.DEVICE_NODES;
        if (s.equals("broker")) return Mode.BROKER;
        throw new IllegalArgumentException("pool '" + pool + "': mode '" + written + "' is not one of device-nodes, broker");
    }

    private static Backend backend(String pool, String written) {
        if (written == null || written.isBlank()) return null;
        String s = written.strip().toLowerCase(Locale.ROOT);
        if (s.equals("legacy") || s.equals("iommufd")) return Backend.parse(s);
        // "either" is a policy limit's spelling (both allowed); a pool exposes its devices one way.
        throw new IllegalArgumentException("pool '" + pool + "': backend '" + written + "' is not one of legacy, iommufd"
                + (s.equals("either") ? "; a pool has one backend: write legacy (the default) or iommufd, and let policy limits allow either" : ""));
    }
}
