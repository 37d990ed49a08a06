package io.vfiobroker.hostgen;

import java.io.IOException;
import java.util.List;

/** The /proc of a generated host: interrupts, swaps, and the mounts, routes and addresses of the host's or a pod's view. */
final class ProcFiles {

    private final TreeFiles files;

    ProcFiles(TreeFiles files) {
        this.files = files;
    }

    void write(HostSpec spec, StorageAndNetwork host) throws IOException {
        StringBuilder interrupts = new StringBuilder("            CPU0       CPU1\n");
        boolean ir = spec.iommu() == HostSpec.Iommu.INTEL_IR || spec.iommu() == HostSpec.Iommu.AMD;
        interrupts.append("   0:         41          0   ").append(ir ? "IR-IO-APIC" : "IO-APIC").append("    2-edge      timer\n");
        interrupts.append("  24:          0       1200  ").append(ir ? "IR-PCI-MSIX" : "PCI-MSIX").append("-0000:01:00.0    0-edge      nvme0q0\n");
        files.text("proc/interrupts", interrupts.toString());
        StringBuilder mounts = new StringBuilder("sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\nproc /proc proc rw 0 0\n");
        if (spec.bootDisk()) {
            mounts.append("/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n/dev/nvme0n1p1 /boot/efi vfat rw,relatime 0 0\n");
        }
        mounts.append(host.mounts());
        files.text("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
        String routeHead = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
        StringBuilder route = new StringBuilder(routeHead);
        if (spec.activeNic()) {
            route.append("eno1\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
            route.append("eno1\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n");
        }
        route.append(host.routes());
        StringBuilder fib = new StringBuilder();
        for (String table : List.of("Main:", "Local:")) {
            fib.append(table).append("\n  +-- 0.0.0.0/0 3 0 5\n");
            for (String a : host.local4()) fib.append("     |-- ").append(a).append("\n        /32 host LOCAL\n");
        }
        String hostRootMount = "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n";
        ProcView hostView = new ProcView(hostRootMount, mounts.toString(), route.toString(), fib.toString(), host.inet6(), INIT_PID_NS);
        // A pod's own view: an overlay root, its veth with the pod network, its own mounts only.
        ProcView pod = new ProcView("1203 1150 0:311 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/var/lib/containerd/l/1\n",
                "overlay / overlay rw,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
                        + "sysfs /sys sysfs rw,relatime 0 0\ntmpfs /dev tmpfs rw,nosuid 0 0\n",
                routeHead + "eth0\t00000000\t0101F40A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                        + "eth0\t0001F40A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
                "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.244.1.7\n        /32 host LOCAL\n", "", "pid:[4026532871]");
        // /proc/self is the reader's pid directory; /proc/mounts and /proc/net are links into it, as in procfs.
        switch (spec.view()) {
            case HOST -> {
                writeProcess("proc/1", hostView, hostView.pidNs());
                writeProcess("proc/" + SELF_PID, hostView, hostView.pidNs());
            }
            case POD_HOST_PID -> {
                writeProcess("proc/1", hostView, hostView.pidNs());
                writeProcess("proc/" + SELF_PID, pod, INIT_PID_NS);
            }
            case POD -> {
                writeProcess("proc/1", pod, pod.pidNs());
                writeProcess("proc/" + SELF_PID, pod, pod.pidNs());
            }
        }
        files.link("proc/self", "proc/" + SELF_PID);
        files.link("proc/mounts", "proc/self/mounts");
        files.link("proc/net", "proc/self/net");
    }

    /** The daemon's own pid in a generated tree. */
    static final int SELF_PID = 4242;
    private static final String INIT_PID_NS = "pid:[4026531836]";

    private record ProcView(String mountinfo, String mounts, String route, String fibTrie, String inet6, String pidNs) {
    }

    private void writeProcess(String dir, ProcView v, String pidNs) throws IOException {
        files.text(dir + "/mountinfo", "22 25 0:21 / /proc rw,relatime - proc proc rw\n" + v.mountinfo());
        files.text(dir + "/mounts", v.mounts());
        files.text(dir + "/net/route", v.route());
        files.text(dir + "/net/fib_trie", v.fibTrie());
        files.text(dir + "/net/if_inet6", v.inet6());
        files.magicLink(dir + "/ns/pid", pidNs);
    }
}
