package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.json.DomainJson;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "status", description = "Devices bound by vfio-broker, with the drivers they will get back.")
final class StatusCommand implements Callable<Integer> {

    @Mixin
    BindingOptions options;

    @Option(names = "--reconcile", description = "first finish or undo what a crashed run left half done")
    boolean reconcile;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        BindingService service = options.service();
        var out = spec.commandLine().getOut();
        if (reconcile) for (String line : service.reconcile()) out.println("reconciled: " + line);
        var owned = service.status().values();
        if (options.json) {
            out.println(DomainJson.mapper().writeValueAsString(owned));
        } else if (owned.isEmpty()) {
            out.println("no devices are bound by vfio-broker");
        } else {
            Table t = new Table("DEVICE", "GROUP", "ORIGINAL DRIVER", "ORIGINAL OVERRIDE", "SINCE");
            for (Journal.Owned o : owned) t.row(o.device(), o.group(), o.originalDriver(), o.originalOverride(), o.since());
            t.print(out);
        }
        out.flush();
        return 0;
    }
}
