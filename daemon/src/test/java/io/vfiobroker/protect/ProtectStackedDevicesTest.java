package io.vfiobroker.protect;

import io.vfiobroker.binding.BindingPlan;
import io.vfiobroker.binding.BindingRules;
import io.vfiobroker.binding.BindingService;
import io.vfiobroker.binding.Journal;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.host.SysfsHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostSpec.FsKind;
import io.vfiobroker.hostgen.HostSpec.Upper;
import io.vfiobroker.hostgen.HostSpec.UpperKind;
import io.vfiobroker.hostgen.HostSpec.Volume;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.inventory.InventoryScanner;
import io.vfiobroker.inventory.PciIds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Protection of NICs under stacked devices, of btrfs and zfs member disks, and of the host's view from a pod, on
 * generated host trees. Two X710 PFs: ens1f0 at 0000:01:00.0, ens2f0 at 0000:02:00.0; volume disks follow
 * (nvme2n1 at 0000:03:00.0, nvme3n1 at 0000:04:00.0).
 */
class ProtectStackedDevicesTest {

    static final PciAddress PF1 = PciAddress.parse("0000:01:00.0");
    static final PciAddress PF2 = PciAddress.parse("0000:02:00.0");
    static final PciAddress DISK_A = PciAddress.parse("0000:03:00.0");
    static final PciAddress DISK_B = PciAddress.parse("0000:04:00.0");

    @TempDir
    Path dir;
    Path root;

    private static HostSpec twoPfs() {
        return HostSpec.sriovScale(2, 0);
    }

    private BindingService service(HostSpec spec, String hostProc) {
        root = HostTreeGenerator.generate(spec, dir.resolve("host"));
        return service(hostProc);
    }

    private BindingService service(String hostProc) {
        SysfsHost host = new SimulatedKernelHost(root);
        return new BindingService(host, new InventoryScanner(host, PciIds.empty()), new Journal(dir.resolve("state")),
                () -> BindingRules.DEFAULT, new ProtectionScanner(host, new HostView(host, hostProc)));
    }

    private BindingService service(HostSpec spec) {
        return service(spec, "/proc");
    }

    private static String override(PciAddress a, String rule) {
        return " [rule " + rule + "; override: list " + a + " in protectedOverrides]";
    }

    // ---- network -----------------------------------------------------------------------------------------------

    @Test
    void bondSlavesOfAnUpBondWithAnAddressAreRefusedNamingTheBond() {
        BindingService s = service(twoPfs().withUppers(new Upper("bond0", UpperKind.BOND, List.of("ens1f0", "ens2f0"), true, "10.0.0.5/24")));
        assertThat(s.planBind(PF1).refusals()).containsExactly(
                "0000:01:00.0 is the parent of ens1f0; ens1f0 is a port of bond0, which is up with address 10.0.0.5/24"
                        + override(PF1, "active-nic"));
        assertThat(s.planBind(PF2).refusals()).containsExactly(
                "0000:02:00.0 is the parent of ens2f0; ens2f0 is a port of bond0, which is up with address 10.0.0.5/24"
                        + override(PF2, "active-nic"));
    }

    @Test
    void aBondFoundOnlyThroughItsSlavesFileStillProtectsItsPorts() throws IOException {
        BindingService s = service(twoPfs().withUppers(new Upper("bond0", UpperKind.BOND, List.of("ens1f0"), true, "10.0.0.5/24")));
        // An older kernel: no upper_/lower_/master links, only bonding/slaves on the bond.
        Path nic = root.resolve("sys/class/net/ens1f0");
        Files.delete(nic.resolve("upper_bond0"));
        Files.delete(nic.resolve("master"));
        Files.delete(root.resolve("sys/class/net/bond0/lower_ens1f0"));
        assertThat(s.planBind(PF1).refusals()).containsExactly(
                "0000:01:00.0 is the parent of ens1f0; ens1f0 is a port of bond0, which is up with address 10.0.0.5/24"
                        + override(PF1, "active-nic"));
    }

    @Test
    void aTeamPortIsRefusedNamingTheTeam() {
        BindingService s = service(twoPfs().withUppers(new Upper("team0", UpperKind.TEAM, List.of("ens2f0"), true, "172.16.4.20/22")));
        assertThat(s.planBind(PF2).refusals()).containsExactly(
                "0000:02:00.0 is the parent of ens2f0; ens2f0 is a port of team0, which is up with address 172.16.4.20/22"
                        + override(PF2, "active-nic"));
        assertThat(s.planBind(PF1).refused()).isFalse();
    }

    @Test
    void aBridgePortIsRefusedNamingTheBridge() {
        BindingService s = service(twoPfs().withUppers(new Upper("br0", UpperKind.BRIDGE, List.of("ens1f0"), true, "192.168.10.2/24")));
        assertThat(s.planBind(PF1).refusals()).containsExactly(
                "0000:01:00.0 is the parent of ens1f0; ens1f0 is a port of br0, which is up with address 192.168.10.2/24"
                        + override(PF1, "active-nic"));
    }

    @Test
    void aBridgeFoundOnlyThroughBrifStillProtectsItsPort() throws IOException {
        BindingService s = service(twoPfs().withUppers(new Upper("br0", UpperKind.BRIDGE, List.of("ens1f0"), true, "192.168.10.2/24")));
        Path nic = root.resolve("sys/class/net/ens1f0");
        Files.delete(nic.resolve("upper_br0"));
        Files.delete(nic.resolve("master"));
        Files.delete(root.resolve("sys/class/net/br0/lower_ens1f0"));
        assertThat(s.planBind(PF1).refusals()).containsExactly(
                "0000:01:00.0 is the parent of ens1f0; ens1f0 is a port of br0, which is up with address 192.168.10.2/24"
                        + override(PF1, "active-nic"));
    }

    @Test
    void aVlanParentIsRefusedNamingTheVlan() {
        BindingService s = service(twoPfs().withUppers(new Upper("ens1f0.100", UpperKind.VLAN, List.of("ens1f0"), true, "10.100.0.7/24")));
        assertThat(s.planBind(PF1).refusals()).containsExactly(
                "0000:01:00.0 is the parent of ens1f0; ens1f0 is the parent of ens1f0.100, which is up with address 10.100.0.7/24"
                        + override(PF1, "active-nic"));
    }

    @Test
    void aMacvlanParentIsRefusedNamingTheMacvlanAndItsIpv6Address() {
        BindingService s = service(twoPfs().withUppers(new Upper("macvlan0", UpperKind.MACVLAN, List.of("ens2f0"), true, "2001:db8:0:1::5/64")));
        assertThat(s.planBind(PF2).refusals()).containsExactly(
                "0000:02:00.0 is the parent of ens2f0; ens2f0 is the parent of macvlan0, which is up with address 2001:db8:0:1::5/64"
                        + override(PF2, "active-nic"));
    }

    @Test
    void aVlanOnABondOnTheNicIsFollowedToTheTop() {
        BindingService s = service(twoPfs().withUppers(
                new Upper("bond0", UpperKind.BOND, List.of("ens1f0", "ens2f0"), true, null),
                new Upper("bond0.100", UpperKind.VLAN, List.of("bond0"), true, "10.0.100.5/24")));
        assertThat(s.planBind(PF1).refusals()).containsExactly(
                "0000:01:00.0 is the parent of ens1f0; ens1f0 is a port of bond0, which is the parent of bond0.100, which is up with "
                        + "address 10.0.100.5/24" + override(PF1, "active-nic"));
        assertThat(s.planBind(PF2).refusals()).containsExactly(
                "0000:02:00.0 is the parent of ens2f0; ens2f0 is a port of bond0, which is the parent of bond0.100, which is up with "
                        + "address 10.0.100.5/24" + override(PF2, "active-nic"));
    }

    @Test
    void aStackEightDeepIsFollowedAndNothingBeyond() {
        HostSpec spec = twoPfs().withUppers(
                vlan("v1", "ens1f0", null), vlan("v2", "v1", null), vlan("v3", "v2", null), vlan("v4", "v3", null),
                vlan("v5", "v4", null), vlan("v6", "v5", null), vlan("v7", "v6", null), vlan("v8", "v7", "10.8.0.1/16"),
                vlan("w1", "ens2f0", null), vlan("w2", "w1", null), vlan("w3", "w2", null), vlan("w4", "w3", null),
                vlan("w5", "w4", null), vlan("w6", "w5", null), vlan("w7", "w6", null), vlan("w8", "w7", null),
                vlan("w9", "w8", "10.9.0.1/16"));
        BindingService s = service(spec);
        assertThat(s.planBind(PF1).refusals()).singleElement().asString()
                .startsWith("0000:01:00.0 is the parent of ens1f0; ens1f0 is the parent of v1, which is the parent of v2")
                .contains("which is the parent of v8, which is up with address 10.8.0.1/16");
        assertThat(s.planBind(PF2).refused()).as("nine deep is past the kernel's nesting limit: not followed").isFalse();
    }

    private static Upper vlan(String name, String lower, String address) {
        return new Upper(name, UpperKind.VLAN, List.of(lower), true, address);
    }

    @Test
    void aBondThatIsDownOrHasNoAddressProtectsNothing() {
        BindingService down = service(twoPfs().withUppers(new Upper("bond0", UpperKind.BOND, List.of("ens1f0"), false, "10.0.0.5/24")));
        assertThat(down.planBind(PF1).refused()).isFalse();
        assertThat(down.planBind(PF1).refusals()).isEmpty();
    }

    @Test
    void anUpBondWithoutAddressOrRouteProtectsNothing() {
        BindingService s = service(twoPfs().withUppers(new Upper("bond0", UpperKind.BOND, List.of("ens1f0", "ens2f0"), true, null)));
        assertThat(s.planBind(PF1).refusals()).isEmpty();
        assertThat(s.planBind(PF2).refusals()).isEmpty();
    }

    // ---- file systems ------------------------------------------------------------------------------------------

    @Test
    void everyDeviceOfAMountedMultiDeviceBtrfsIsProtected() {
        BindingService s = service(twoPfs().withVolumes(new Volume(FsKind.BTRFS, "data", 2, "/data", true)));
        String fs = "a device of btrfs file system 'data' (4b2a9e1c-7d3f-4c1e-9a55-000000000000) mounted at /data (devices nvme2n1, nvme3n1)";
        assertThat(s.planBind(DISK_A).refusals()).containsExactly(
                "0000:03:00.0 backs /data (nvme2n1)" + override(DISK_A, "mounted-disk"),
                "0000:03:00.0 holds nvme2n1, " + fs + override(DISK_A, "btrfs-member"));
        // Only the first device appears in /proc/mounts; the second is known from /sys/fs/btrfs alone.
        assertThat(s.planBind(DISK_B).refusals()).containsExactly(
                "0000:04:00.0 holds nvme3n1, " + fs + override(DISK_B, "btrfs-member"));
    }

    @Test
    void aMountTableLongerThanAPageIsReadToTheEnd() throws IOException {
        BindingService s = service(twoPfs().withVolumes(new Volume(FsKind.BTRFS, "data", 1, "/data", true)));
        Path mounts = root.resolve("proc/self/mounts");
        // A Kubernetes node: hundreds of pod mounts before the one that matters.
        StringBuilder pods = new StringBuilder();
        for (int i = 0; i < 300; i++) pods.append("tmpfs /var/lib/kubelet/pods/").append(i).append("/volumes/token tmpfs rw 0 0\n");
        Files.writeString(mounts, pods + Files.readString(mounts));
        assertThat(Files.size(mounts)).isGreaterThan(4096 * 4);
        assertThat(s.planBind(DISK_A).refusals()).first().isEqualTo("0000:03:00.0 backs /data (nvme2n1)" + override(DISK_A, "mounted-disk"));
    }

    @Test
    void disksOfAnUnmountedBtrfsAreFree() {
        BindingService s = service(twoPfs().withVolumes(new Volume(FsKind.BTRFS, "data", 2, "/data", false)));
        assertThat(s.planBind(DISK_A).refused()).isFalse();
        assertThat(s.planBind(DISK_B).refused()).isFalse();
    }

    @Test
    void everyVdevOfAnImportedZfsPoolIsProtected() {
        BindingService s = service(twoPfs().withVolumes(new Volume(FsKind.ZFS, "tank", 2, "/tank", true)));
        assertThat(s.planBind(DISK_A).refusals()).containsExactly(
                "0000:03:00.0 holds nvme2n1p1, a vdev of zfs pool tank, which is imported and mounted at /tank, /tank/home"
                        + override(DISK_A, "zfs-member"));
        assertThat(s.planBind(DISK_B).refusals()).containsExactly(
                "0000:04:00.0 holds nvme3n1p1, a vdev of zfs pool tank, which is imported and mounted at /tank, /tank/home"
                        + override(DISK_B, "zfs-member"));
    }

    @Test
    void anImportedPoolWithNoMountedDatasetIsStillProtected() throws IOException {
        BindingService s = service(twoPfs().withVolumes(new Volume(FsKind.ZFS, "tank", 1, "/tank", true)));
        Files.writeString(root.resolve("proc/self/mounts"), "proc /proc proc rw 0 0\n");
        assertThat(s.planBind(DISK_A).refusals()).containsExactly(
                "0000:03:00.0 holds nvme2n1p1, a vdev of zfs pool tank, which is imported" + override(DISK_A, "zfs-member"));
    }

    @Test
    void disksOfAnExportedZfsPoolAreFree() {
        BindingService s = service(twoPfs().withVolumes(new Volume(FsKind.ZFS, "tank", 2, "/tank", false)));
        assertThat(s.planBind(DISK_A).refused()).isFalse();
    }

    @Test
    void whenTheImportedPoolsCannotBeReadEveryZfsMemberIsProtected() throws IOException {
        BindingService s = service(twoPfs().withVolumes(new Volume(FsKind.ZFS, "tank", 1, "/tank", false)));
        Files.delete(root.resolve("proc/spl/kstat/zfs/arcstats"));
        Files.delete(root.resolve("proc/spl/kstat/zfs"));
        assertThat(s.planBind(DISK_A).refusals()).containsExactly(
                "0000:03:00.0 holds nvme2n1p1, a zfs_member of pool tank, and the imported pools cannot be read from "
                        + "/proc/spl/kstat/zfs, so it is taken as in use" + override(DISK_A, "zfs-member"));
    }

    // ---- the host's view from a pod ----------------------------------------------------------------------------

    /** demo: boot NVMe 0000:01:00.0 (/ on nvme0n1p2), data NVMe 0000:02:00.0, eno1 at 0000:03:00.0. */
    private static HostSpec node(HostSpec.View view) {
        return HostSpec.demo().withView(view);
    }

    @Test
    void aPodWithHostPidReadsTheHostsMountsAndRoutesThroughProc1() {
        BindingService s = service(node(HostSpec.View.POD_HOST_PID), "/proc/1");
        PciAddress boot = PciAddress.parse("0000:01:00.0");
        PciAddress nic = PciAddress.parse("0000:03:00.0");
        assertThat(s.planBind(boot).refusals()).containsExactly("0000:01:00.0 backs / (nvme0n1p2)" + override(boot, "boot-disk"),
                "0000:01:00.0 backs /boot/efi (nvme0n1p1)" + override(boot, "mounted-disk"));
        assertThat(s.planBind(nic).refusals()).containsExactly(
                "0000:03:00.0 is the parent of eno1, which is up and carries routes default via 192.168.0.1, 192.168.0.0/24"
                        + override(nic, "active-nic"));
        assertThat(s.planBind(PciAddress.parse("0000:02:00.0")).refused()).as("the unmounted data disk").isFalse();
    }

    @Test
    void aPodReadingItsOwnProcRefusesEveryBindSayingWhy() {
        BindingService s = service(node(HostSpec.View.POD_HOST_PID), "/proc");
        PciAddress data = PciAddress.parse("0000:02:00.0");
        assertThat(s.planBind(data).refusals()).containsExactly(
                "0000:02:00.0 cannot be checked against the host's mounts and routes: the daemon's root file system (0:311 /) is not "
                        + "the host init's (259:2 /): it runs in a container, whose /proc/mounts and /proc/net are its own; set "
                        + "vfio-broker.host-proc=/proc/1 (the chart does, with hostPID: true)" + override(data, "host-view"));
    }

    @Test
    void aPodWithoutHostPidIsBlindEvenThroughProc1() {
        BindingService s = service(node(HostSpec.View.POD), "/proc/1");
        PciAddress data = PciAddress.parse("0000:02:00.0");
        assertThat(s.planBind(data).refusals()).containsExactly(
                "0000:02:00.0 cannot be checked against the host's mounts and routes: the daemon runs in a PID namespace of its own "
                        + "(pid:[4026532871], the host's is pid:[4026531836]), so /proc/mounts and /proc/net are a container's and /proc/1 "
                        + "is not the host's init; run the pod with hostPID: true and vfio-broker.host-proc=/proc/1"
                        + override(data, "host-view"));
    }

    @Test
    void anExactOverrideStillBindsOnABlindDaemon() {
        root = HostTreeGenerator.generate(node(HostSpec.View.POD), dir.resolve("host"));
        SysfsHost host = new SimulatedKernelHost(root);
        PciAddress data = PciAddress.parse("0000:02:00.0");
        BindingService s = new BindingService(host, new InventoryScanner(host, PciIds.empty()), new Journal(dir.resolve("state")),
                () -> BindingRules.of(io.vfiobroker.policy.PolicyParser.parse("version: 1\nbinding:\n  protectedOverrides: [\"" + data + "\"]\n", "test")), new ProtectionScanner(host, new HostView(host, "/proc/1")));
        assertThat(s.planBind(data).refused()).isFalse();
    }

    @Test
    void aKernelWithoutPidNamespacesHasOnlyTheHostsView() throws java.io.IOException {
        // CONFIG_PID_NS=n (the VM suite's tinyconfig kernel): /proc/PID/ns has no pid link.
        root = HostTreeGenerator.generate(node(HostSpec.View.HOST), dir.resolve("host"));
        java.nio.file.Files.delete(root.resolve("proc/self/ns/pid"));
        BindingService s = service("/proc");
        assertThat(s.planBind(PciAddress.parse("0000:02:00.0")).refused()).isFalse();
        assertThat(s.planBind(PciAddress.parse("0000:01:00.0")).refusals()).first().asString().startsWith("0000:01:00.0 backs / (nvme0n1p2)");
    }

    @Test
    void onTheHostTheOwnProcIsTheHostsView() {
        BindingService s = service(node(HostSpec.View.HOST), "/proc");
        assertThat(s.planBind(PciAddress.parse("0000:02:00.0")).refused()).isFalse();
        assertThat(s.planBind(PciAddress.parse("0000:01:00.0")).refusals()).first().asString().startsWith("0000:01:00.0 backs / (nvme0n1p2)");
    }

    @Test
    void hostProcMustStayBelowTheRoot() {
        root = HostTreeGenerator.generate(twoPfs(), dir.resolve("host"));
        SysfsHost host = new SimulatedKernelHost(root);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new HostView(host, "/proc/../etc"))
                .hasMessage("host-proc '/proc/../etc' has an invalid component '..'");
        assertThat(new HostView(host, "/proc/1/").proc()).isEqualTo("proc/1");
        assertThat(new HostView(host, null).proc()).isEqualTo("proc");
    }

    // ---- procfs parsing ---------------------------------------------------------------------------------------

    @Test
    void ipv6AddressesArePrintedInTheirShortForm() {
        assertThat(NetState.ipv6("20010db8000000010000000000000005")).isEqualTo("2001:db8:0:1::5");
        assertThat(NetState.ipv6("00000000000000000000000000000001")).isEqualTo("::1");
        assertThat(NetState.ipv6("20010db8000000000001000000000000")).as("the longest zero run").isEqualTo("2001:db8:0:0:1::");
        assertThat(NetState.ipv6("20010db8000000000001000000000001")).as("the first of equal runs").isEqualTo("2001:db8::1:0:0:1");
        assertThat(NetState.ipv6("20010db8000100000001000100010001")).isEqualTo("2001:db8:1:0:1:1:1:1");
    }

    @Test
    void localAddressesComeFromFibTrieLeavesMarkedHostLocal() {
        String fib = """
                Main:
                  +-- 0.0.0.0/0 3 0 5
                     |-- 0.0.0.0
                        /0 universe UNICAST
                     +-- 127.0.0.0/8 2 0 2
                        +-- 127.0.0.0/31 1 0 0
                           |-- 127.0.0.0
                              /8 host LOCAL
                           |-- 127.0.0.1
                              /32 host LOCAL
                     +-- 192.0.2.0/24 2 0 2
                           |-- 192.0.2.0
                              /24 link UNICAST
                           |-- 192.0.2.2
                              /32 host LOCAL
                        |-- 192.0.2.255
                           /32 link BROADCAST
                """;
        assertThat(NetState.localIpv4(fib)).containsExactly((192L << 24) | (2 << 8) | 2);
    }
}
