package io.vfiobroker.cli;

import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.domain.IommuGroup;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.stream.Collectors;

@Command(name = "groups", description = "List IOMMU groups, their members and whether VFIO can use them (viable).")
final class GroupsCommand extends HostReport {

    @Override
    Object json(HostInventory inv) {
        return inv.groups();
    }

    @Override
    void table(HostInventory inv, PrintWriter out) {
        Table t = new Table("GROUP", "VIABLE", "DEVICES", "BLOCKED BY");
        for (IommuGroup g : inv.groups()) {
            t.row(g.id(), g.viable() ? "yes" : "no",
                    g.devices().stream().map(Object::toString).collect(Collectors.joining(",")),
                    g.blockers().isEmpty() ? null : String.join("; ", g.blockers()));
        }
        if (inv.groups().isEmpty()) out.println("no IOMMU groups: the kernel has no IOMMU enabled (check intel_iommu=/amd_iommu= and the firmware's DMAR/IVRS table)");
        else t.print(out);
    }
}
