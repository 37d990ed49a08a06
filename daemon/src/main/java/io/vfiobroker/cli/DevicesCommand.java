package io.vfiobroker.cli;

import io.vfiobroker.domain.Device;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.json.DomainJson;
import io.vfiobroker.core.HostFacts;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

import java.util.List;

@Command(name = "devices", description = "List PCI devices with driver, IOMMU group, NUMA node and SR-IOV role.")
final class DevicesCommand extends CliCommand {

    @Mixin
    HostOptions host;

    @Parameters(paramLabel = "ADDR", arity = "0..*", description = "only these addresses (DDDD:BB:DD.F)")
    List<String> addresses = List.of();

    @Override
    public Integer call() {
        HostFacts facts = host.facts();
        List<Device> devices;
        if (addresses.isEmpty()) {
            devices = facts.inventory().devices();
        } else {
            devices = addresses.stream().map(PciAddress::parse).map(a -> facts.device(a)
                    .orElseThrow(() -> new IllegalArgumentException("no PCI device " + a + " under " + host.root))).toList();
        }
        var out = out();
        if (host.json) {
            DomainJson.print(out, devices);
            out.flush();
            return 0;
        }
        Table t = new Table("ADDRESS", "ID", "CLASS", "DRIVER", "GROUP", "NUMA", "SR-IOV", "NAME");
        for (Device d : devices) {
            String sriov = d.sriov() != null ? "PF " + d.sriov().numVfs() + "/" + d.sriov().totalVfs()
                    : d.physicalFunction() != null ? "VF of " + d.physicalFunction() : null;
            String name = d.deviceName() != null ? d.deviceName() : d.vendorName();
            t.row(d.address(), d.vendorDevice(), d.pciClass(), d.driver(), d.iommuGroup(),
                    d.numaNode() < 0 ? null : d.numaNode(), sriov, name);
        }
        t.print(out);
        return 0;
    }
}
