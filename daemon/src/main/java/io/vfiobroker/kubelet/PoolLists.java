package io.vfiobroker.kubelet;

import io.vfiobroker.cdi.CdiSpec;
import io.vfiobroker.cdi.CdiSpecWriter;
import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.nodeplugin.DeviceHealth;
import io.vfiobroker.nodeplugin.PoolDevice;
import io.vfiobroker.policy.SelectorFacts;
import io.vfiobroker.policy.Principal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/** Each pool's device list and its health, and the CDI spec that follows it. */
final class PoolLists {

    private static final Logger log = LoggerFactory.getLogger(PoolLists.class);

    private final DeviceProvisioning core;
    private final CdiSpecWriter cdi;
    // Every device a pool ever listed: a device that vanishes stays listed, unhealthy, until it returns.
    private final Map<String, Map<PciAddress, PoolDevice>> known = new ConcurrentHashMap<>();

    PoolLists(DeviceProvisioning core, CdiSpecWriter cdi) {
        this.core = core;
        this.cdi = cdi;
    }

    /** The pool's devices now, with those it listed before and lost still listed, unhealthy, saying why. */
    List<PoolDevice> compute(PoolPlugin p, HostInventory inv, Map<PciAddress, String> original) {
        Map<PciAddress, PoolDevice> seen = known.computeIfAbsent(p.resourceName, k -> new ConcurrentHashMap<>());
        Map<PciAddress, PoolDevice> out = new TreeMap<>();
        SelectorFacts facts = core.selectorFacts(inv, original);
        for (Device d : inv.devices()) {
            if (!p.pool.selectors().matches(d, facts, null)) continue;
            PoolDevice pd = new PoolDevice(d.address(), d.iommuGroup(), d.numaNode(), unhealthyReason(p, d, inv));
            out.put(d.address(), pd);
        }
        for (Map.Entry<PciAddress, PoolDevice> e : seen.entrySet()) {
            if (out.containsKey(e.getKey())) continue;
            PoolDevice last = e.getValue();
            String why = inv.device(e.getKey()).isPresent()
                    ? e.getKey() + " no longer matches the selectors of pool " + p.pool.name()
                    : e.getKey() + " is gone from the host (removed, or its VF was disabled)";
            out.put(e.getKey(), new PoolDevice(last.address(), last.group(), last.numaNode(), why));
        }
        for (PoolDevice d : out.values()) if (d.healthy() || !seen.containsKey(d.address())) seen.put(d.address(), d);
        return List.copyOf(out.values());
    }

    private String unhealthyReason(PoolPlugin p, Device d, HostInventory inv) {
        String kernel = DeviceHealth.problem(p.pool, d, inv, core.deviceNodes());
        return kernel != null ? kernel : core.refusal(Principal.resource(p.resourceName), d.address(), inv).orElse(null);
    }

    /** Writes the pool's CDI spec (or removes it when it has no device left). */
    void writeCdi(PoolPlugin p, List<PoolDevice> list) {
        if (cdi == null) return;
        List<CdiSpec.Device> devs = new ArrayList<>();
        for (PoolDevice d : list) {
            if (d.reason() != null && d.reason().contains(" is gone from the host")) continue;
            List<CdiSpec.DeviceNode> nodes = p.exposure.deviceNodes(d).stream().map(n -> new CdiSpec.DeviceNode(n, null, "c", "rw")).toList();
            // Every CDI device needs some edit; this one also tells the container which function it got.
            devs.add(new CdiSpec.Device(d.id(), new CdiSpec.ContainerEdits(List.of(deviceEnvName(d.address()) + "=" + d.id()), nodes, List.of())));
        }
        if (devs.isEmpty()) {
            cdi.remove(p.resourceName);
            return;
        }
        CdiSpec.ContainerEdits shared = new CdiSpec.ContainerEdits(
                p.exposure.env().entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).sorted().toList(),
                p.exposure.sharedNodes().stream().map(n -> new CdiSpec.DeviceNode(n, null, "c", "rw")).toList(),
                p.exposure.mounts().stream().map(m -> new CdiSpec.Mount(m.hostPath(), m.containerPath(),
                        m.readOnly() ? List.of("bind", "ro", "nosuid", "nodev") : List.of("bind", "nosuid", "nodev"), null)).toList());
        try {
            cdi.write(new CdiSpec(p.resourceName, devs, shared));
        } catch (UncheckedIOException e) {
            log.warn("event=cdi-spec-failed resource={} error=\"{}\"", p.resourceName, e.getMessage());
        }
    }

    static String deviceEnvName(PciAddress a) {
        return "VFIO_BROKER_DEVICE_" + a.toString().replaceAll("[^0-9a-f]", "_").toUpperCase(Locale.ROOT);
    }
}
