package io.vfiobroker.web;

import io.vfiobroker.core.DeviceProvisioning;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.domain.IommuUnit;
import io.vfiobroker.domain.KernelSupport;
import io.vfiobroker.domain.PciAddress;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

import java.util.List;

/** Read-only inventory over REST, read from the host at each request (the gRPC Inventory answers from the cache). */
@RestController
@RequestMapping("/api/v1")
public class InventoryController {

    private final DeviceProvisioning core;

    public InventoryController(DeviceProvisioning core) {
        this.core = core;
    }

    @GetMapping("/devices")
    public List<Device> devices() {
        return core.inventory().devices();
    }

    @GetMapping("/devices/{address}")
    public Device device(@PathVariable String address) {
        PciAddress a = PciAddress.parse(address);
        return core.device(a).orElseThrow(() -> new NotFoundException("no PCI device " + a));
    }

    @GetMapping("/groups")
    public List<IommuGroup> groups() {
        return core.inventory().groups();
    }

    @GetMapping("/groups/{id}")
    public IommuGroup group(@PathVariable String id) {
        int n;
        try {
            n = Integer.parseInt(id);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid IOMMU group '" + id + "': expected a non-negative number");
        }
        return core.inventory().group(n).orElseThrow(() -> new NotFoundException("no IOMMU group " + n));
    }

    @GetMapping("/iommu")
    public IommuView iommu() {
        var inv = core.inventory();
        return new IommuView(inv.iommuUnits(), inv.kernel());
    }

    public record IommuView(List<IommuUnit> units, KernelSupport kernel) {
    }
}
