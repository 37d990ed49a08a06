package io.vfiobroker.bench;

import io.vfiobroker.host.LinuxSysfsHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The lease benches' host: 4 X710 PFs × 16 VFs, each VF in its own IOMMU group and already on vfio-pci (policy keeps
 * it there), and a policy granting uid 0 those VFs with a finite memlock limit per lease.
 */
record LeaseHost(Path root, Path policy, List<String> vfs, long memlockBytes) {

    static final int PFS = 4;
    static final int VFS_PER_PF = 16;

    static LeaseHost generate(Path dir, long memlockBytes) throws IOException {
        Path root = HostTreeGenerator.generate(HostSpec.sriovScale(PFS, VFS_PER_PF).withVfDriver("vfio-pci"), dir.resolve("host"));
        InventoryScanner scanner = new InventoryScanner(new LinuxSysfsHost(root), PciIds.empty());
        List<String> vfs = scanner.deviceAddresses().stream().filter(a -> scanner.device(a).orElseThrow().boundTo("vfio-pci"))
                .map(Object::toString).toList();
        long groups = vfs.stream().map(a -> scanner.device(io.vfiobroker.domain.PciAddress.parse(a)).orElseThrow().iommuGroup()).distinct().count();
        if (vfs.size() != PFS * VFS_PER_PF || groups != vfs.size()) {
            throw new IllegalStateException("expected " + PFS * VFS_PER_PF + " VFs on vfio-pci in as many groups, found " + vfs.size() + " in " + groups);
        }
        Path policy = dir.resolve("policy.yaml");
        Files.writeString(policy, policy(Long.toString(memlockBytes)));
        return new LeaseHost(root, policy, vfs, memlockBytes);
    }

    /** The benches' policy: uid 0 may lease every X710 VF, kept on vfio-pci, with {@code memlockPerLease} per lease. */
    static String policy(String memlockPerLease) {
        return """
                version: 1
                rules:
                  - name: bench
                    action: allow
                    devices:
                      vendorDevice: "8086:154c"
                    principals:
                      uid: 0
                    limits:
                      maxDevices: unlimited
                      memlockPerLease: %s
                      keepBound: true
                """.formatted(memlockPerLease);
    }

    /** Client {@code k} of {@code n}: every n-th VF from k, so no two clients ever want the same group. */
    List<String> slice(int k, int n) {
        return java.util.stream.IntStream.range(0, vfs.size()).filter(i -> i % n == k).mapToObj(vfs::get).toList();
    }
}
