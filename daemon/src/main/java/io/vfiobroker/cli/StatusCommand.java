package io.vfiobroker.cli;

import io.vfiobroker.binding.Journal;
import io.vfiobroker.json.DomainJson;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Devices bound by vfio-broker, with the drivers they will get back.",
                "While a daemon runs it is asked (admins only); otherwise the binding journal is read."})
final class StatusCommand extends CliCommand {

    @Mixin
    BindingOptions options;

    @Option(names = "--reconcile", description = "first finish or undo what a crashed run left half done")
    boolean reconcile;

    @Override
    public Integer call() {
        var out = out();
        try (BindingOptions.Bindings b = options.open(reconcile)) {
            options.announce(out, err(), b);
            List<String> reconciled = new ArrayList<>();
            Collection<Journal.Owned> owned = b.status(reconcile, reconciled);
            var notes = options.json ? err() : out;
            for (String line : reconciled) notes.println("reconciled: " + line);
            notes.flush();
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
}
