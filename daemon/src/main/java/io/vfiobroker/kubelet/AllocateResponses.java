package io.vfiobroker.kubelet;

import io.grpc.Status;
import io.grpc.StatusException;
import io.vfiobroker.api.deviceplugin.v1beta1.CDIDevice;
import io.vfiobroker.api.deviceplugin.v1beta1.ContainerAllocateResponse;
import io.vfiobroker.api.deviceplugin.v1beta1.DeviceSpec;
import io.vfiobroker.api.deviceplugin.v1beta1.Mount;
import io.vfiobroker.cdi.CdiSpecWriter;
import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.nodeplugin.Exposure;
import io.vfiobroker.nodeplugin.KubeletAllocationHook;
import io.vfiobroker.nodeplugin.PoolConfig;
import io.vfiobroker.nodeplugin.PoolDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** Builds the response to a device plugin's Allocate once the devices are checked (and, with device nodes, bound). */
final class AllocateResponses {

    private static final Logger log = LoggerFactory.getLogger(AllocateResponses.class);
    private static final JsonMapper JSON = JsonMapper.builder().build();

    private AllocateResponses() {
    }

    /** The kubelet's answer for {@code devs} of pool {@code p}: device nodes, mounts, environment and CDI names. */
    static ContainerAllocateResponse of(PoolPlugin p, List<PoolDevice> devs, KubeletAllocationHook hook, CdiSpecWriter cdi)
            throws StatusException {
        ContainerAllocateResponse.Builder b = ContainerAllocateResponse.newBuilder();
        Set<String> nodes = new LinkedHashSet<>(p.exposure.sharedNodes());
        Map<String, Object> info = new LinkedHashMap<>();
        for (PoolDevice d : devs) {
            List<String> own = p.exposure.deviceNodes(d);
            if (own.isEmpty() && p.pool.mode() == PoolConfig.Mode.DEVICE_NODES) {
                throw Status.FAILED_PRECONDITION.withDescription(p.resourceName + ": " + d.id() + " has no "
                        + (p.pool.backend() == Backend.IOMMUFD
                        ? "vfio cdev (sys/bus/pci/devices/" + d.id() + "/vfio-dev/ is empty): the kernel lacks VFIO_DEVICE_CDEV"
                        : "IOMMU group node")).asException();
            }
            nodes.addAll(own);
            info.put(d.id(), p.exposure.info(d));
        }
        for (String n : nodes) b.addDevices(DeviceSpec.newBuilder().setContainerPath(n).setHostPath(n).setPermissions("rw"));
        for (Exposure.MountSpec m : p.exposure.mounts()) {
            b.addMounts(Mount.newBuilder().setContainerPath(m.containerPath()).setHostPath(m.hostPath()).setReadOnly(m.readOnly()));
        }
        String env = KubeletPlugins.envName(p.resourceName);
        b.putEnvs(env, String.join(",", devs.stream().map(PoolDevice::id).toList()));
        b.putEnvs(env + "_INFO", JSON.writeValueAsString(info));
        b.putAllEnvs(p.exposure.env());
        List<PciAddress> addresses = devs.stream().map(PoolDevice::address).toList();
        b.putAllEnvs(hook.allocated(p.resourceName, p.pool.mode(), addresses));
        if (cdi != null && Files.exists(cdi.file(p.resourceName))) {
            for (PoolDevice d : devs) b.addCdiDevices(CDIDevice.newBuilder().setName(p.resourceName + "=" + d.id()));
        }
        log.info("event=allocated resource={} mode={} devices={} groups={}", p.resourceName,
                p.pool.mode().name().toLowerCase(Locale.ROOT), addresses, devs.stream().map(PoolDevice::group).distinct().toList());
        return b.build();
    }
}
