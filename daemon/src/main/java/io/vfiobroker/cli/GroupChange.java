package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingPlan;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

/** bind and release: one change to a group's binding, by the daemon or offline, printed as its plan. */
abstract class GroupChange implements Callable<Integer> {

    @ArgGroup(exclusive = true, multiplicity = "1")
    GroupTarget target;

    @Mixin
    BindingOptions options;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    abstract boolean dryRun();

    abstract BindingPlan change(BindingOptions.Bindings b);

    /** Exit 1 when a dry run shows the change would be refused. */
    @Override
    public Integer call() {
        try (BindingOptions.Bindings b = options.open(!dryRun())) {
            options.announce(spec.commandLine().getOut(), spec.commandLine().getErr(), b);
            BindingPlan plan = change(b);
            options.print(spec.commandLine().getOut(), plan, dryRun());
            return dryRun() && plan.refused() ? 1 : 0;
        }
    }
}
