package io.vfiobroker.cli;

import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.IommuUnit;
import io.vfiobroker.domain.KernelSupport;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;

@Command(name = "iommu", description = "Show IOMMU units, their interrupt-remapping verdict, and the kernel's VFIO support.")
final class IommuCommand extends HostReport {

    @Override
    Object json(HostInventory inv) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("units", inv.iommuUnits());
        doc.put("kernel", inv.kernel());
        return doc;
    }

    @Override
    void table(HostInventory inv, PrintWriter out) {
        Table t = new Table("UNIT", "TYPE", "INTERRUPT REMAPPING", "EVIDENCE");
        for (IommuUnit u : inv.iommuUnits()) t.row(u.name(), u.type(), u.interruptRemapping().wireName(), u.evidence());
        if (inv.iommuUnits().isEmpty()) out.println("no IOMMU units: the kernel exposes nothing under /sys/class/iommu");
        else t.print(out);
        KernelSupport k = inv.kernel();
        out.printf("kernel: vfio=%s vfio-pci=%s vfio_iommu_type1=%s iommufd=%s /dev/vfio/vfio=%s /dev/iommu=%s%n",
                yn(k.vfio()), yn(k.vfioPci()), yn(k.vfioIommuType1()), yn(k.iommufd()), yn(k.vfioContainerNode()), yn(k.iommufdNode()));
        out.printf("allow_unsafe_interrupts: vfio_iommu_type1=%s iommufd=%s%n",
                k.type1AllowUnsafeInterrupts() == null ? "n/a" : yn(k.type1AllowUnsafeInterrupts()),
                k.iommufdAllowUnsafeInterrupts() == null ? "n/a" : yn(k.iommufdAllowUnsafeInterrupts()));
    }

    private static String yn(boolean b) {
        return b ? "yes" : "no";
    }
}
