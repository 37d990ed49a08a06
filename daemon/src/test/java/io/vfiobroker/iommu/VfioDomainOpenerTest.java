package io.vfiobroker.iommu;

import io.vfiobroker.domain.Backend;
import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.host.SimulatedKernelHost;
import io.vfiobroker.hostgen.HostSpec;
import io.vfiobroker.hostgen.HostTreeGenerator;
import io.vfiobroker.nativeshim.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/** {@link VfioDomainOpener} against the kernel model: both backends, the rollback at every step, the EPERM advice. */
class VfioDomainOpenerTest {

    @TempDir
    Path dir;

    SimulatedKernelHost host;

    /** A demo host with the GPU's two-member group and one VF's group on vfio-pci, and cdevs for them. */
    List<DomainOpener.Member> setUp(boolean iommufd) throws IOException {
        Path root = dir.resolve("host");
        HostTreeGenerator.generate(HostSpec.demo().withIommufd(iommufd), root);
        host = new SimulatedKernelHost(root);
        List<Integer> groups = host.list("sys/kernel/iommu_groups").stream().map(Integer::parseInt).sorted().toList();
        int pair = groups.stream().filter(g -> members(g).size() == 2).findFirst().orElseThrow();
        int vf = groups.stream().filter(g -> members(g).size() == 1
                && host.read("sys/bus/pci/devices/" + members(g).get(0) + "/device").orElse("").strip().equals("0x154c")).findFirst().orElseThrow();
        List<DomainOpener.Member> out = new ArrayList<>();
        int cdev = 0;
        for (int g : List.of(pair, vf)) {
            for (String a : members(g)) {
                toVfio(a);
                out.add(new DomainOpener.Member(PciAddress.parse(a), g));
                if (iommufd) {
                    Files.createDirectories(root.resolve("sys/bus/pci/devices/" + a + "/vfio-dev/vfio" + cdev));
                    Files.createDirectories(root.resolve("sys/class/vfio-dev"));
                    Files.createDirectories(root.resolve("dev/vfio/devices"));
                    Files.writeString(root.resolve("dev/vfio/devices/vfio" + cdev++), "");
                }
            }
        }
        return out;
    }

    private List<String> members(int group) {
        return host.list("sys/kernel/iommu_groups/" + group + "/devices").stream().sorted().toList();
    }

    private void toVfio(String a) throws IOException {
        host.write("sys/bus/pci/devices/" + a + "/driver_override", "vfio-pci");
        if (host.linkName("sys/bus/pci/devices/" + a + "/driver").isPresent()) host.write("sys/bus/pci/devices/" + a + "/driver/unbind", a);
        host.write("sys/bus/pci/drivers_probe", a);
    }

    @Test
    void legacyHandsOverTheContainerEachGroupAndEachDeviceWithItsRegions() throws IOException {
        List<DomainOpener.Member> members = setUp(false);
        VfioKernelModel kernel = new VfioKernelModel(host, true);
        VfioDomainOpener opener = new VfioDomainOpener(host, kernel);
        assertThat(opener.availableBackends()).containsExactly(Backend.LEGACY);
        try (DeviceDomain d = opener.open(members, Backend.LEGACY)) {
            assertThat(d.fds()).extracting(HandoverFd::kind).containsExactly(HandoverFd.Kind.CONTAINER, HandoverFd.Kind.GROUP,
                    HandoverFd.Kind.GROUP, HandoverFd.Kind.DEVICE, HandoverFd.Kind.DEVICE, HandoverFd.Kind.DEVICE);
            assertThat(d.fds().get(3).regions()).extracting(HandoverFd.Region::index).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
            assertThat(d.fds().get(3).regions().get(0).size()).isEqualTo(4096);
            assertThat(kernel.state()).contains("container groups=[" + members.get(0).group() + ", " + members.get(2).group() + "] iommu=true");
            assertThat(d.resetDevices()).containsExactly(members.get(0).address() + " reset", members.get(1).address() + " reset",
                    members.get(2).address() + " reset");
            assertThat(kernel.resets(members.get(2).address().toString())).isEqualTo(1);
        }
        assertThat(kernel.state()).isEqualTo("idle");
        assertThat(kernel.openFds()).isZero();
    }

    @Test
    void iommufdBindsAndAttachesEveryDeviceToOneIoas() throws IOException {
        List<DomainOpener.Member> members = setUp(true);
        VfioKernelModel kernel = new VfioKernelModel(host, true);
        VfioDomainOpener opener = new VfioDomainOpener(host, kernel);
        assertThat(opener.availableBackends()).containsExactly(Backend.LEGACY, Backend.IOMMUFD);
        try (DeviceDomain d = opener.open(members, Backend.IOMMUFD)) {
            assertThat(d.fds()).extracting(HandoverFd::kind).containsExactly(HandoverFd.Kind.IOMMUFD, HandoverFd.Kind.DEVICE,
                    HandoverFd.Kind.DEVICE, HandoverFd.Kind.DEVICE);
            int ioas = d.fds().get(0).ioasId();
            assertThat(d.fds()).allSatisfy(f -> assertThat(f.ioasId()).isEqualTo(ioas));
            assertThat(kernel.state()).contains("device " + members.get(0).address() + " bound pt=" + ioas);
        }
        assertThat(kernel.state()).isEqualTo("idle");
    }

    @Test
    void legacyUndoesEverythingAfterAFailureAtAnyStep() throws IOException {
        everyStepRollsBack(setUp(false), Backend.LEGACY);
    }

    @Test
    void iommufdUndoesEverythingAfterAFailureAtAnyStep() throws IOException {
        everyStepRollsBack(setUp(true), Backend.IOMMUFD);
    }

    private void everyStepRollsBack(List<DomainOpener.Member> members, Backend backend) {
        VfioKernelModel probe = new VfioKernelModel(host, true);
        new VfioDomainOpener(host, probe).open(members, backend).close();
        List<String> steps = probe.calls().subList(0, probe.calls().indexOf("VFIO_GROUP_UNSET_CONTAINER") >= 0
                ? probe.calls().indexOf("VFIO_GROUP_UNSET_CONTAINER") : probe.calls().size());
        assertThat(steps).hasSizeGreaterThan(10);
        for (int k = 1; k <= steps.size(); k++) {
            String step = steps.get(k - 1);
            VfioKernelModel kernel = new VfioKernelModel(host, true);
            VfioDomainOpener opener = new VfioDomainOpener(host, kernel);
            kernel.failCall(k, Errno.ENOMEM);
            try (DeviceDomain d = opener.open(members, backend)) {
                // Only an optional region may fail without failing the open: the device goes without it.
                assertThat(step).as("step %d survived", k).isEqualTo("VFIO_DEVICE_GET_REGION_INFO");
                // 8 regions a device (VGA answers EINVAL anyway); one fewer unless the injected failure hit VGA's.
                assertThat(d.fds().stream().mapToInt(f -> f.regions().size()).sum()).isIn(3 * 8 - 1, 3 * 8);
            } catch (DomainException e) {
                assertThat(e.errno()).as("step %d (%s)", k, step).isEqualTo("ENOMEM");
                assertThat(e.getMessage()).as("step %d", k).startsWith(step.startsWith("open ") ? "open " : step + ": ENOMEM");
            }
            assertThat(kernel.openFds()).as("fds left open after a failure at step %d (%s)", k, step).isZero();
            assertThat(kernel.state()).as("kernel state after a failure at step %d (%s)", k, step).isEqualTo("idle");
            // Nothing is left behind that would make the next open fail (a group still open answers EBUSY).
            new VfioDomainOpener(host, kernel).open(members, backend).close();
        }
    }

    @Test
    void setIommuWithoutInterruptRemappingSaysWhichSwitchAndHowToSetIt() throws IOException {
        List<DomainOpener.Member> members = setUp(false);
        VfioKernelModel kernel = new VfioKernelModel(host, false);
        VfioDomainOpener opener = new VfioDomainOpener(host, kernel);
        assertThatThrownBy(() -> opener.open(members, Backend.LEGACY)).isInstanceOf(DomainException.class)
                .hasMessageStartingWith("VFIO_SET_IOMMU: EPERM")
                .hasMessageContaining("does not remap interrupts and vfio_iommu_type1 allow_unsafe_interrupts is N")
                .hasMessageContaining("echo Y > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts");
        assertThat(kernel.state()).isEqualTo("idle");
        host.write("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "Y");
        opener.open(members, Backend.LEGACY).close();
    }

    @Test
    void bindWithoutInterruptRemappingNamesIommufdsOwnSwitch() throws IOException {
        List<DomainOpener.Member> members = setUp(true);
        host.write("sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts", "Y");
        VfioKernelModel kernel = new VfioKernelModel(host, false);
        VfioDomainOpener opener = new VfioDomainOpener(host, kernel);
        assertThatThrownBy(() -> opener.open(members, Backend.IOMMUFD)).isInstanceOf(DomainException.class)
                .hasMessageStartingWith("VFIO_DEVICE_BIND_IOMMUFD: EPERM")
                .hasMessageContaining("iommufd allow_unsafe_interrupts is N (a separate switch from vfio_iommu_type1's)")
                .hasMessageContaining("echo Y > /sys/module/iommufd/parameters/allow_unsafe_interrupts");
        assertThat(kernel.state()).isEqualTo("idle");
    }

    @Test
    void aGroupInOneDomainIsBusyForASecondUntilTheFirstCloses() throws IOException {
        List<DomainOpener.Member> members = setUp(false);
        VfioDomainOpener opener = new VfioDomainOpener(host, new VfioKernelModel(host, true));
        DeviceDomain first = opener.open(members.subList(2, 3), Backend.LEGACY);
        assertThatThrownBy(() -> opener.open(members.subList(2, 3), Backend.LEGACY))
                .isInstanceOfSatisfying(DomainException.class, e -> assertThat(e.errno()).isEqualTo("EBUSY"))
                .hasMessageStartingWith("open " + host.root().resolve("dev/vfio/" + members.get(2).group()));
        first.close();
        opener.open(members.subList(2, 3), Backend.LEGACY).close();
    }

    @Test
    void aGroupWithAMemberOnAHostDriverIsNotViable() throws IOException {
        List<DomainOpener.Member> members = setUp(false);
        String audio = members.get(1).address().toString();
        host.write("sys/bus/pci/devices/" + audio + "/driver/unbind", audio);
        host.write("sys/bus/pci/devices/" + audio + "/driver_override", "snd_hda_intel");
        Files.createDirectories(host.root().resolve("sys/bus/pci/drivers/snd_hda_intel"));
        host.write("sys/bus/pci/drivers_probe", audio);
        VfioKernelModel kernel = new VfioKernelModel(host, true);
        assertThatThrownBy(() -> new VfioDomainOpener(host, kernel).open(members.subList(0, 1), Backend.LEGACY))
                .hasMessageContaining("group " + members.get(0).group() + " is not viable");
        assertThat(kernel.state()).isEqualTo("idle");
        if (kernel.openFds() != 0) fail("fds left open: " + kernel.openFds());
    }
}
