package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "bind", mixinStandardHelpOptions = true,
        description = {"Bind a device's whole IOMMU group (or a group) to vfio-pci, recording the original drivers.",
                "While a daemon runs it is asked (admins only; its policy's binding rules apply); otherwise this command binds by"
                        + " itself with the binding rules of --policy."})
final class BindCommand extends GroupChange {

    @Option(names = "--dry-run", description = "print the exact sysfs writes and the protection verdicts, change nothing")
    void dryRun(boolean on) {
        dryRun = on;
    }

    @Override
    BindingPlan change(BindingOptions.Bindings b) {
        return b.bind(target.address, target.group, dryRun);
    }
}
