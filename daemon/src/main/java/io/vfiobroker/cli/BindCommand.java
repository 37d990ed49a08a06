package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingPlan;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "bind", mixinStandardHelpOptions = true,
        description = {"Bind a device's whole IOMMU group (or a group) to vfio-pci, recording the original drivers.",
                "While a daemon runs it is asked (admins only; its policy's binding rules apply); otherwise this command binds by"
                        + " itself with the binding rules of --policy."})
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
        try (BindingOptions.Bindings b = options.open(!dryRun)) {
            options.announce(spec.commandLine().getOut(), spec.commandLine().getErr(), b);
            BindingPlan plan = b.bind(target.address, target.group, dryRun);
            options.print(spec.commandLine().getOut(), plan, dryRun);
            return dryRun && plan.refused() ? 1 : 0;
        }
    }
}
