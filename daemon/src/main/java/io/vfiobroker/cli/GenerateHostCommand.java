package io.vfiobroker.cli;

import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;

@Command(name = "generate-host", description = "Write a synthetic host tree (sysfs, /dev, /proc) for tests, demos and benchmarks.")
final class GenerateHostCommand extends CliCommand {

    @Parameters(paramLabel = "DIR", description = "empty or new directory to write the tree into")
    Path dir;

    @Option(names = "--demo", description = "the demo server (NICs with VFs, NVMe, GPU, BMC VGA); other options then refine it")
    boolean demo;

    @Option(names = "--pfs", description = "SR-IOV NIC physical functions")
    Integer pfs;

    @Option(names = "--vfs", description = "virtual functions per PF")
    Integer vfs;

    @Option(names = "--layout", description = "IOMMU group layout: ${COMPLETION-CANDIDATES}")
    HostSpec.GroupLayout layout;

    @Option(names = "--iommu", description = "platform IOMMU: ${COMPLETION-CANDIDATES}")
    HostSpec.Iommu iommu;

    @Override
    public Integer call() {
        HostSpec s = demo ? HostSpec.demo() : HostSpec.sriovScale(4, 8);
        if (pfs != null || vfs != null) {
            s = new HostSpec(pfs != null ? pfs : s.nicPfs(), vfs != null ? vfs : s.vfsPerPf(), s.vfDriver(), s.layout(), s.iommu(),
                    s.bootDisk(), s.dataDisk(), s.activeNic(), s.consoleVga(), s.gpu(), s.edu(), s.vfioLoaded(), s.iommufd(), s.numaNodes());
        }
        if (layout != null) s = s.withLayout(layout);
        if (iommu != null) s = s.withIommu(iommu);
        HostTreeGenerator.generate(s, dir);
        out().println("wrote host tree " + dir.toAbsolutePath());
        return 0;
    }
}
