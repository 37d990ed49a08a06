package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.domain.PciAddress;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "release", description = "Give a group bound by vfio-broker back to its original drivers.")
final class ReleaseCommand implements Callable<Integer> {

    @ArgGroup(exclusive = true, multiplicity = "1")
    GroupTarget target;

    @Option(names = "--dry-run", description = "print the exact sysfs writes, change nothing")
    boolean dryRun;

    @Option(names = "--keep-bound", description = "leave the devices on vfio-pci, only clear driver_override")
    boolean keepBound;

    @Mixin
    BindingOptions options;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        BindingService service = options.service();
        int group = target.group != null ? target.group : service.groupOf(PciAddress.parse(target.address));
        if (group < 0) throw new IllegalArgumentException("invalid IOMMU group " + group);
        BindingPlan plan = service.release(group, !keepBound, dryRun);
        options.print(spec.commandLine().getOut(), plan, dryRun);
        return dryRun && plan.refused() ? 1 : 0;
    }
}
