package io.vfiobroker.cli;

import io.vfiobroker.domain.IommuGroup;
import io.vfiobroker.json.DomainJson;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;
import java.util.stream.Collectors;

@Command(name = "groups", description = "List IOMMU groups, their members and whether VFIO can use them (viable).")
final class GroupsCommand implements Callable<Integer> {

    @Mixin
    HostOptions host;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        var groups = host.scanner().scan().groups();
        var out = spec.commandLine().getOut();
        if (host.json) {
            out.println(DomainJson.mapper().writeValueAsString(groups));
            out.flush();
            return 0;
        }
        Table t = new Table("GROUP", "VIABLE", "DEVICES", "BLOCKED BY");
        for (IommuGroup g : groups) {
            t.row(g.id(), g.viable() ? "yes" : "no",
                    g.devices().stream().map(Object::toString).collect(Collectors.joining(",")),
                    g.blockers().isEmpty() ? null : String.join("; ", g.blockers()));
        }
        if (groups.isEmpty()) out.println("no IOMMU groups: the kernel has no IOMMU enabled (check intel_iommu=/amd_iommu= and the firmware's DMAR/IVRS table)");
        else t.print(out);
        out.flush();
        return 0;
    }
}
