package io.vfiobroker.cli;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.LinuxSysfsHost;
import io.vfiobroker.core.CoreWiring;
import io.vfiobroker.core.HostFacts;
import io.vfiobroker.iommu.DeviceDomain;
import io.vfiobroker.iommu.DomainException;
import io.vfiobroker.iommu.DomainOpener;
import io.vfiobroker.iommu.VfioDomainOpener;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;

/** Opens (and closes) an IOMMU domain for a device bound to vfio-pci, without policy: what the kernel says. */
@Command(name = "domain-check", description = "Root only: open the IOMMU domain for a vfio-pci device and report the kernel's answer.")
final class DomainCheckCommand extends CliCommand {

    @Parameters(paramLabel = "ADDR")
    String address;

    @Option(names = "--backend", description = "legacy or iommufd (default legacy)")
    String backend = "legacy";

    @Option(names = "--root", description = "host root (default /)")
    Path root = Path.of("/");

    @Override
    public Integer call() {
        LinuxSysfsHost host = new LinuxSysfsHost(root);
        PciAddress a = PciAddress.parse(address);
        Device d = new HostFacts(CoreWiring.scanner(host)).device(a)
                .orElseThrow(() -> new IllegalArgumentException("no PCI device " + a));
        if (d.iommuGroup() == null) throw new IllegalArgumentException(a + " is in no IOMMU group");
        Backend b = Backend.parse(backend);
        try (DeviceDomain dom = new VfioDomainOpener(host).open(java.util.List.of(new DomainOpener.Member(a, d.iommuGroup())), b)) {
            out().println("ok: " + b.wireName() + " domain opened for " + a + " (" + dom.fds().size() + " fds)");
            return 0;
        } catch (DomainException e) {
            out().println("refused: " + e.getMessage());
            return 1;
        } finally {
            out().flush();
        }
    }
}
