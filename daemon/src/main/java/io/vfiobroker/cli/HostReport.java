package io.vfiobroker.cli;

import io.vfiobroker.domain.HostInventory;
import io.vfiobroker.json.DomainJson;
import picocli.CommandLine.Mixin;

import java.io.PrintWriter;

/** A read command that scans the host once and prints one part of it: as JSON with --json, else as a table. */
abstract class HostReport extends CliCommand {

    @Mixin
    HostOptions host;

    /** What --json prints. */
    abstract Object json(HostInventory inv);

    abstract void table(HostInventory inv, PrintWriter out);

    @Override
    public final Integer call() {
        HostInventory inv = host.facts().inventory();
        PrintWriter out = out();
        if (host.json) DomainJson.print(out, json(inv));
        else table(inv, out);
        out.flush();
        return 0;
    }
}
