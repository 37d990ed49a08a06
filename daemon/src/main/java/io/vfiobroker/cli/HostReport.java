package io.vfiobroker.cli;

import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.json.DomainJson;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

/** A read command that scans the host once and prints one part of it: as JSON with --json, else as a table. */
abstract class HostReport implements Callable<Integer> {

    @Mixin
    HostOptions host;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** What --json prints. */
    abstract Object json(HostInventory inv);

    abstract void table(HostInventory inv, PrintWriter out);

    @Override
    public final Integer call() {
        HostInventory inv = host.scanner().scan();
        PrintWriter out = spec.commandLine().getOut();
        if (host.json) out.println(DomainJson.mapper().writeValueAsString(json(inv)));
        else table(inv, out);
        out.flush();
        return 0;
    }
}
