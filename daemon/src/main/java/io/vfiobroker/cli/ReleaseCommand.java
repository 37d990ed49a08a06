package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingPlan;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "release", mixinStandardHelpOptions = true,
        description = {"Give a group bound by vfio-broker back to its original drivers.",
                "While a daemon runs it is asked (admins only), and refuses while a lease uses the group."})
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
        try (BindingOptions.Bindings b = options.open(!dryRun)) {
            options.announce(spec.commandLine().getOut(), spec.commandLine().getErr(), b);
            BindingPlan plan = b.release(target.address, target.group, !keepBound, dryRun);
            options.print(spec.commandLine().getOut(), plan, dryRun);
            return dryRun && plan.refused() ? 1 : 0;
        }
    }
}
