package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingPlan;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Mixin;


/** bind and release: one change to a group's binding, by the daemon or offline, printed as its plan. */
abstract class GroupChange extends CliCommand {

    @ArgGroup(exclusive = true, multiplicity = "1")
    GroupTarget target;

    @Mixin
    BindingOptions options;

    /** Set by each command's --dry-run, whose help says what its dry run shows. */
    boolean dryRun;

    abstract BindingPlan change(BindingOptions.Bindings b);

    /** Exit 1 when a dry run shows the change would be refused. */
    @Override
    public Integer call() {
        try (BindingOptions.Bindings b = options.open(!dryRun)) {
            options.announce(out(), err(), b);
            BindingPlan plan = change(b);
            options.print(out(), plan, dryRun);
            return dryRun && plan.refused() ? 1 : 0;
        }
    }
}
