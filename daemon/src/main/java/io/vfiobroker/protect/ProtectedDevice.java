package io.vfiobroker.protect;

import io.vfiobroker.domain.PciAddress;

/**
 * A device the host itself depends on. {@code rule} is the machine name an override or a log refers to,
 * {@code detail} says what was seen ("backs / (nvme0n1p2)").
 */
public record ProtectedDevice(PciAddress address, Rule rule, String detail) {

    public enum Rule {
        BOOT_DISK("boot-disk"), MOUNTED_DISK("mounted-disk"), SWAP("swap"), DISK_HOLDERS("disk-holders"),
        ACTIVE_NIC("active-nic"), CONSOLE_VGA("console-vga"), BTRFS_MEMBER("btrfs-member"), ZFS_MEMBER("zfs-member"),
        /** Nothing can be told about the host's mounts and routes from where the daemon runs. */
        HOST_VIEW("host-view");

        private final String wire;

        Rule(String wire) {
            this.wire = wire;
        }

        public String wireName() {
            return wire;
        }
    }

    public String sentence() {
        return address + " " + detail;
    }
}
