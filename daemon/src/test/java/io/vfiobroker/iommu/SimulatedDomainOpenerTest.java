package io.vfiobroker.iommu;

import io.vfiobroker.domain.PciAddress;
import io.vfiobroker.nativeshim.Posix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SimulatedDomainOpenerTest {

    @TempDir
    Path root;

    @Test
    void aDemoDomainHandsOverFilesThatSayWhatTheyStandFor() {
        SimulatedDomainOpener opener = new SimulatedDomainOpener(root);
        try (DeviceDomain d = opener.open(List.of(new DomainOpener.Member(PciAddress.parse("0000:07:02.0"), 14)), "legacy")) {
            assertThat(d.fds()).extracting(HandoverFd::kind)
                    .containsExactly(HandoverFd.Kind.CONTAINER, HandoverFd.Kind.GROUP, HandoverFd.Kind.DEVICE);
            byte[] buf = new byte[80];
            int n = Posix.pread(d.fds().get(2).fd().fd(), buf, 0, "device");
            assertThat(new String(buf, 0, n, StandardCharsets.UTF_8)).contains("simulated VFIO device 0000:07:02.0");
            assertThat(d.resetDevices()).containsExactly("0000:07:02.0 reset (simulated)");
        }
    }

    @Test
    void neverOnTheRealRoot() {
        assertThatThrownBy(() -> new SimulatedDomainOpener(Path.of("/"))).hasMessageContaining("never runs on the real root");
    }
}
