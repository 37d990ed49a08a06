package io.vfiobroker.cli;

import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.binding.SysfsStep;
import io.vfiobroker.config.BrokerProperties;
import io.vfiobroker.host.LinuxSysfsHost;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import io.vfiobroker.json.DomainJson;
import io.vfiobroker.protect.HostView;
import io.vfiobroker.protect.ProtectionScanner;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/** Options shared by the commands that change bindings. */
public final class BindingOptions {

    @Option(names = "--root", paramLabel = "DIR", description = "host root (default: /)")
    Path root = Path.of("/");

    @Option(names = "--state-dir", paramLabel = "DIR", description = "journal directory (default: var/lib/vfio-broker below the root)")
    Path stateDir;

    @Option(names = "--simulate-kernel", hidden = true, description = "a generated tree reacts to writes like the kernel (tests, demo)")
    boolean simulateKernel;

    @Option(names = "--host-proc", paramLabel = "DIR", description = "proc directory below the root whose mounts and net/ are "
            + "the host's (default: /proc; /proc/1 in a container with the host PID namespace)")
    String hostProc = "/proc";

    @Option(names = "--json", description = "print JSON")
    boolean json;

    BindingService service() {
        if (!Files.isDirectory(root)) throw new IllegalArgumentException("host root " + root + " does not exist or is not a directory");
        SysfsHost host = simulateKernel ? new SimulatedKernelHost(root) : new LinuxSysfsHost(root);
        Journal journal = new Journal(stateDir != null ? stateDir : BrokerProperties.defaultStateDir(root));
        return new BindingService(host, new InventoryScanner(host, PciIds.system()), journal, () -> BindingRules.DEFAULT,
                new ProtectionScanner(host, new HostView(host, hostProc)));
    }

    void print(PrintWriter out, BindingPlan plan, boolean dryRun) {
        if (json) {
            out.println(DomainJson.mapper().writeValueAsString(plan));
            out.flush();
            return;
        }
        out.printf("%s IOMMU group %d%s%n", dryRun ? "would " + plan.operation() : plan.operation(), plan.group(),
                dryRun ? " (dry run: nothing written)" : ": done");
        Table t = new Table("DEVICE", "DRIVER NOW", "ACTION");
        for (BindingPlan.Member m : plan.members()) t.row(m.address(), m.driver(), m.action());
        t.print(out);
        if (dryRun) {
            out.println(plan.driverStatus());
            for (SysfsStep s : plan.steps()) out.println("  " + s);
            if (plan.refused()) {
                out.println("REFUSED:");
                for (String r : plan.refusals()) out.println("  " + r);
            }
        }
        out.flush();
    }
}
