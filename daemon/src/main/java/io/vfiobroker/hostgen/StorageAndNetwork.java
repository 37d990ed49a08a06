package io.vfiobroker.hostgen;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The block devices, volumes and network interfaces of a generated host, and what /proc says of them: its mount
 * table, IPv4 routes, local IPv4 addresses and IPv6 address lines.
 */
final class StorageAndNetwork {

    private final TreeFiles files;
    private int nextNvme = 2;
    private int nextMinor = 16;
    /** Interface name to its device directory, for stacking. */
    private final Map<String, String> netDirs = new HashMap<>();
    private final StringBuilder mounts = new StringBuilder();
    private final StringBuilder routes = new StringBuilder();
    private final List<String> local4 = new ArrayList<>();
    private final StringBuilder inet6 = new StringBuilder();

    StorageAndNetwork(TreeFiles files) {
        this.files = files;
    }

    String mounts() {
        return mounts.toString();
    }

    String routes() {
        return routes.toString();
    }

    List<String> local4() {
        return List.copyOf(local4);
    }

    String inet6() {
        return inet6.toString();
    }

    /** An NVMe namespace block device below its controller; the boot disk's has the root and EFI partitions. */
    void block(String ctrlDir, String ctrlName, String disk, boolean holdsRoot) throws IOException {
        String nsDir = ctrlDir + "/nvme/" + ctrlName + "/" + disk;
        files.mkdirs(nsDir + "/holders");
        files.text(nsDir + "/dev", "259:" + (holdsRoot ? 0 : 3));
        files.link("sys/block/" + disk, nsDir);
        files.link("sys/class/block/" + disk, nsDir);
        if (holdsRoot) {
            for (int p = 1; p <= 2; p++) {
                String part = nsDir + "/" + disk + "p" + p;
                files.mkdirs(part + "/holders");
                files.text(part + "/dev", "259:" + p);
                files.text(part + "/partition", Integer.toString(p));
                files.link("sys/class/block/" + disk + "p" + p, part);
            }
        }
    }

    void net(String devDir, String ifname, boolean up) throws IOException {
        String netDir = devDir + "/net/" + ifname;
        files.mkdirs(netDir);
        files.text(netDir + "/operstate", up ? "up" : "down");
        files.text(netDir + "/flags", up ? "0x1003" : "0x1002");
        files.link("sys/class/net/" + ifname, netDir);
        netDirs.put(ifname, netDir);
    }

    /**
     * A virtual device stacked on others, linked as the kernel links adjacent devices: upper_X on each lower and
     * lower_Y on the upper, master for bond, team and bridge ports, bonding/slaves and brif/ on the upper.
     */
    void upper(HostSpec.Upper u) throws IOException {
        String dir = "sys/devices/virtual/net/" + u.name();
        files.mkdirs(dir);
        files.text(dir + "/operstate", u.up() ? "up" : "down");
        files.text(dir + "/flags", u.up() ? "0x1003" : "0x1002");
        if (u.kind() == HostSpec.UpperKind.BOND) files.text(dir + "/bonding/slaves", String.join(" ", u.lowers()));
        if (u.kind() == HostSpec.UpperKind.BRIDGE) files.text(dir + "/bridge/stp_state", "0");
        if (u.kind() == HostSpec.UpperKind.VLAN) files.text(dir + "/uevent", "DEVTYPE=vlan\nINTERFACE=" + u.name() + "\n");
        files.link("sys/class/net/" + u.name(), dir);
        for (String lower : u.lowers()) {
            String ld = netDirs.get(lower);
            if (ld == null) throw new IllegalArgumentException("upper " + u.name() + " stacks on unknown interface " + lower);
            files.link(ld + "/upper_" + u.name(), dir);
            files.link(dir + "/lower_" + lower, ld);
            switch (u.kind()) {
                case BOND -> {
                    files.link(ld + "/master", dir);
                    files.text(ld + "/bonding_slave/state", "active");
                }
                case TEAM -> files.link(ld + "/master", dir);
                case BRIDGE -> {
                    files.link(ld + "/master", dir);
                    files.link(ld + "/brport/bridge", dir);
                    files.link(dir + "/brif/" + lower, ld + "/brport");
                }
                default -> {
                }
            }
        }
        netDirs.put(u.name(), dir);
        if (u.up() && u.address() != null) address(u.name(), u.address());
    }

    /** An address and the link route it brings, as /proc/net shows them. */
    private void address(String ifname, String cidr) {
        String[] p = cidr.split("/");
        int len = Integer.parseInt(p[1]);
        if (p[0].contains(":")) {
            byte[] b;
            try {
                b = InetAddress.getByName(p[0]).getAddress();
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException(cidr, e);
            }
            StringBuilder hex = new StringBuilder();
            for (byte x : b) hex.append(String.format("%02x", x & 0xff));
            inet6.append(String.format("%s %02x %02x %02x %02x %8s%n", hex, 10 + netDirs.size(), len, 0, 0x80, ifname));
            return;
        }
        long a = 0;
        for (String part : p[0].split("\\.")) a = (a << 8) | Integer.parseInt(part);
        long mask = len == 0 ? 0 : (0xffffffffL << (32 - len)) & 0xffffffffL;
        routes.append(String.format("%s\t%s\t00000000\t0001\t0\t0\t0\t%s\t0\t0\t0%n", ifname, routeHex(a & mask), routeHex(mask)));
        local4.add(p[0]);
    }

    /** net/route's form: the network-order word printed as a host-order (little-endian) number. */
    private static String routeHex(long a) {
        long le = ((a & 0xff) << 24) | ((a & 0xff00) << 8) | ((a >> 8) & 0xff00) | ((a >> 24) & 0xff);
        return String.format("%08X", le);
    }

    /** A btrfs or ZFS volume on the NVMe controllers at {@code ctrlDirs}, one whole disk each. */
    void volume(HostSpec.Volume vol, int index, List<String> ctrlDirs) throws IOException {
        List<String> disks = new ArrayList<>();
        List<String> diskDirs = new ArrayList<>();
        for (String ctrlDir : ctrlDirs) {
            int n = nextNvme++;
            String disk = "nvme" + n + "n1";
            String nsDir = ctrlDir + "/nvme/nvme" + n + "/" + disk;
            int minor = nextMinor++;
            files.mkdirs(nsDir + "/holders");
            files.text(nsDir + "/dev", "259:" + minor);
            files.link("sys/block/" + disk, nsDir);
            files.link("sys/class/block/" + disk, nsDir);
            disks.add(disk);
            diskDirs.add(nsDir);
            if (vol.kind() == HostSpec.FsKind.ZFS) {
                // zpool on a whole disk makes a GPT with the vdev in partition 1 (and a small partition 9).
                files.text("run/udev/data/b259:" + minor, "E:ID_PART_TABLE_TYPE=gpt\nG:systemd\n");
                String part = nsDir + "/" + disk + "p1";
                int pminor = nextMinor++;
                files.mkdirs(part + "/holders");
                files.text(part + "/dev", "259:" + pminor);
                files.text(part + "/partition", "1");
                files.link("sys/class/block/" + disk + "p1", part);
                files.text("run/udev/data/b259:" + pminor, String.format("E:ID_FS_TYPE=zfs_member%nE:ID_FS_USAGE=filesystem%nE:ID_FS_LABEL=%s%n"
                        + "E:ID_FS_UUID=%d%nE:ID_PART_ENTRY_NUMBER=1%nG:systemd%n", vol.name(), 1234567890123456789L + index));
            }
        }
        if (vol.kind() == HostSpec.FsKind.BTRFS) {
            if (!vol.imported()) return;
            // The kernel registers a btrfs file system under /sys/fs/btrfs/<fsid> when it is mounted.
            String fsid = String.format("4b2a9e1c-7d3f-4c1e-9a55-%012x", index);
            files.text("sys/fs/btrfs/" + fsid + "/label", vol.name());
            for (int i = 0; i < disks.size(); i++) files.link("sys/fs/btrfs/" + fsid + "/devices/" + disks.get(i), diskDirs.get(i));
            mounts.append("/dev/").append(disks.get(0)).append(' ').append(vol.mountpoint())
                    .append(" btrfs rw,relatime,space_cache=v2,subvolid=5,subvol=/ 0 0\n");
        } else {
            files.mkdirs("sys/module/zfs/parameters");
            files.text("proc/spl/kstat/zfs/arcstats", "13 1 0x01 147 39984 2331236171 3087627403421\nname type data\n");
            if (!vol.imported()) return;
            files.text("proc/spl/kstat/zfs/" + vol.name() + "/state", "ONLINE");
            files.text("proc/spl/kstat/zfs/" + vol.name() + "/txgs", "");
            mounts.append(vol.name()).append(' ').append(vol.mountpoint()).append(" zfs rw,xattr,noacl 0 0\n");
            mounts.append(vol.name()).append("/home ").append(vol.mountpoint()).append("/home zfs rw,xattr,noacl 0 0\n");
        }
    }
}
