package io.vfiobroker.hostgen;

/**
 * What a generated host tree contains. Devices are placed behind their own root port, as on a server board.
 *
 * @param nicPfs         SR-IOV capable NIC physical functions (Intel X710)
 * @param vfsPerPf       virtual functions enabled on each of them
 * @param vfDriver       driver the VFs are bound to ("iavf", "vfio-pci", or null for none)
 * @param layout         how devices fall into IOMMU groups
 * @param iommu          the IOMMU the platform has
 * @param bootDisk       an NVMe controller whose namespace holds "/"
 * @param dataDisk       an unmounted NVMe controller, free to assign
 * @param activeNic      a NIC that is up with an address and the default route
 * @param consoleVga     the BMC's VGA, flagged boot_vga
 * @param gpu            a GPU with its HDMI audio function (one group: a multi-function device without ACS)
 * @param edu            QEMU's edu test device (1234:11e8), driverless
 * @param vfioLoaded     whether vfio, vfio-pci and vfio_iommu_type1 are loaded
 * @param iommufd        whether the kernel has iommufd (/dev/iommu, vfio cdevs)
 * @param numaNodes      NUMA nodes the PFs alternate over (1 = no NUMA information, numa_node -1)
 * @param uppers         devices stacked on the PFs' interfaces (ens1f0, ens2f0, ...) or on each other, in order
 * @param volumes        multi-device file systems, each on NVMe controllers of its own
 * @param view           what the daemon's /proc shows: the host's, or a pod's
 */
public record HostSpec(int nicPfs, int vfsPerPf, String vfDriver, GroupLayout layout, Iommu iommu,
                       boolean bootDisk, boolean dataDisk, boolean activeNic, boolean consoleVga, boolean gpu,
                       boolean edu, boolean vfioLoaded, boolean iommufd, int numaNodes,
                       java.util.List<Upper> uppers, java.util.List<Volume> volumes, View view) {

    /** A network device stacked on {@code lowers}; {@code address} (10.0.0.5/24 or 2001:db8::5/64) or null. */
    public record Upper(String name, UpperKind kind, java.util.List<String> lowers, boolean up, String address) {
        public Upper {
            lowers = java.util.List.copyOf(lowers);
        }
    }

    public enum UpperKind { BOND, TEAM, BRIDGE, VLAN, MACVLAN }

    /**
     * A file system over {@code members} new NVMe disks. btrfs: {@code name} is the label, mounted at
     * {@code mountpoint} from its first device. zfs: {@code name} is the pool, its vdevs are partition 1 of each
     * disk; {@code imported} puts it in /proc/spl/kstat/zfs and its datasets in the mount table.
     */
    public record Volume(FsKind kind, String name, int members, String mountpoint, boolean imported) {
    }

    public enum FsKind { BTRFS, ZFS }

    public enum View {
        /** The daemon runs on the host: its /proc is the host's. */
        HOST,
        /** A pod with hostPID: /proc/1 is the host's init, /proc/mounts and /proc/net the pod's. */
        POD_HOST_PID,
        /** A pod without hostPID: /proc/1 is the pod's own first process. */
        POD
    }

    public HostSpec(int nicPfs, int vfsPerPf, String vfDriver, GroupLayout layout, Iommu iommu,
                    boolean bootDisk, boolean dataDisk, boolean activeNic, boolean consoleVga, boolean gpu,
                    boolean edu, boolean vfioLoaded, boolean iommufd, int numaNodes) {
        this(nicPfs, vfsPerPf, vfDriver, layout, iommu, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, vfioLoaded, iommufd,
                numaNodes, java.util.List.of(), java.util.List.of(), View.HOST);
    }

    public enum GroupLayout {
        /** Every function has its own group (ACS everywhere). */
        PER_DEVICE,
        /** A PF and all its VFs share one group (no ACS below the port). */
        SHARED,
        /** Each endpoint sits behind a PCIe-to-PCI bridge and shares the bridge's group. */
        BRIDGE
    }

    public enum Iommu { INTEL_IR, INTEL_NO_IR, AMD, NONE }

    public HostSpec {
        if (nicPfs < 0 || nicPfs > 4000) throw new IllegalArgumentException("nicPfs must be 0..4000, got " + nicPfs);
        if (vfsPerPf < 0 || vfsPerPf > 248) throw new IllegalArgumentException("vfsPerPf must be 0..248, got " + vfsPerPf);
        if (numaNodes < 1 || numaNodes > 64) throw new IllegalArgumentException("numaNodes must be 1..64, got " + numaNodes);
        uppers = java.util.List.copyOf(uppers);
        volumes = java.util.List.copyOf(volumes);
        if (view == null) view = View.HOST;
    }

    /** A small server: two X710 PFs with four VFs each, boot NVMe, data NVMe, active NIC, BMC VGA, a GPU. */
    public static HostSpec demo() {
        return new HostSpec(2, 4, "iavf", GroupLayout.PER_DEVICE, Iommu.INTEL_IR, true, true, true, true, true,
                true, true, false, 2);
    }

    /** Only NIC PFs and VFs, one group each: the scale case. */
    public static HostSpec sriovScale(int pfs, int vfs) {
        return new HostSpec(pfs, vfs, "iavf", GroupLayout.PER_DEVICE, Iommu.INTEL_IR, false, false, false, false,
                false, false, true, false, 2);
    }

    public HostSpec withLayout(GroupLayout l) {
        return new HostSpec(nicPfs, vfsPerPf, vfDriver, l, iommu, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, vfioLoaded, iommufd, numaNodes, uppers, volumes, view);
    }

    public HostSpec withIommu(Iommu i) {
        return new HostSpec(nicPfs, vfsPerPf, vfDriver, layout, i, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, vfioLoaded, iommufd, numaNodes, uppers, volumes, view);
    }

    public HostSpec withVfDriver(String d) {
        return new HostSpec(nicPfs, vfsPerPf, d, layout, iommu, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, vfioLoaded, iommufd, numaNodes, uppers, volumes, view);
    }

    public HostSpec withVfioLoaded(boolean v) {
        return new HostSpec(nicPfs, vfsPerPf, vfDriver, layout, iommu, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, v, iommufd, numaNodes, uppers, volumes, view);
    }

    public HostSpec withIommufd(boolean v) {
        return new HostSpec(nicPfs, vfsPerPf, vfDriver, layout, iommu, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, vfioLoaded, v, numaNodes, uppers, volumes, view);
    }

    public HostSpec withUppers(Upper... u) {
        return new HostSpec(nicPfs, vfsPerPf, vfDriver, layout, iommu, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, vfioLoaded,
                iommufd, numaNodes, java.util.List.of(u), volumes, view);
    }

    public HostSpec withVolumes(Volume... v) {
        return new HostSpec(nicPfs, vfsPerPf, vfDriver, layout, iommu, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, vfioLoaded,
                iommufd, numaNodes, uppers, java.util.List.of(v), view);
    }

    public HostSpec withView(View v) {
        return new HostSpec(nicPfs, vfsPerPf, vfDriver, layout, iommu, bootDisk, dataDisk, activeNic, consoleVga, gpu, edu, vfioLoaded,
                iommufd, numaNodes, uppers, volumes, v);
    }
}
