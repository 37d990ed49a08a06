package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingPlan;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "release", mixinStandardHelpOptions = true,
        description = {"Give a group bound by vfio-broker back to its original drivers.",
                "While a daemon runs it is asked (admins only), and refuses while a lease uses the group."})
final class ReleaseCommand extends GroupChange {

    @Option(names = "--dry-run", description = "print the exact sysfs writes, change nothing")
    void dryRun(boolean on) {
        dryRun = on;
    }

    @Option(names = "--keep-bound", description = "leave the devices on vfio-pci, only clear driver_override")
    boolean keepBound;

    @Override
    BindingPlan change(BindingOptions.Bindings b) {
        return b.release(target.address, target.group, !keepBound, dryRun);
    }
}
