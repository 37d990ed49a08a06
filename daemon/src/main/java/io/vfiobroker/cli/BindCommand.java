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

@Command(name = "bind", description = "Bind a device's whole IOMMU group (or a group) to vfio-pci, recording the original drivers.")
final class BindCommand implements Callable<Integer> {

    @ArgGroup(exclusive = true, multiplicity = "1")
    GroupTarget target;

    @Option(names = "--dry-run", description = "print the exact sysfs writes and the protection verdicts, change nothing")
    boolean dryRun;

    @Mixin
    BindingOptions options;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        BindingService service = options.service();
        BindingPlan plan = target.address != null
                ? service.bind(PciAddress.parse(target.address), dryRun)
                : service.bindGroup(target.group, dryRun);
        options.print(spec.commandLine().getOut(), plan, dryRun);
        return dryRun && plan.refused() ? 1 : 0;
    }
}
